"""Start the gateway under uvicorn (httptools parser, uvloop): `serve` from a config file, `demo` against an
in-process Bedrock emulator."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import uvicorn

from bedrock_proxy.config import Config, load_config
from bedrock_proxy.observability.logs import configure_logging
from bedrock_proxy.observability.multiprocess import METRICS_DIR_ENV, shared_metrics_dir
from bedrock_proxy.server.app import Gateway
from bedrock_proxy.server.listening import (
    LISTEN_ENV,
    Listening,
    announce,
    announce_when_accepting,
    listening_socket,
)
from bedrock_proxy.server.protocol import GatewayHttpProtocol
from bedrock_proxy.spend.location import uses_default_file
from bedrock_proxy.startup_report import cannot_start, load_for_serving
from bedrock_proxy.wiring import (
    STATE_FILE_ENV,
    build_gateway,
    build_observability,
    describe_shared_state,
    shared_state_kind,
)

CONFIG_ENV = "BEDROCK_PROXY_CONFIG"
DEMO_KEY_PAIR = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def create_app() -> Gateway:
    """App factory for worker processes: each worker loads the config named by BEDROCK_PROXY_CONFIG."""
    config = load_config(os.environ[CONFIG_ENV])
    _configure_logging(config)
    gateway = build_gateway(config)
    listening = Listening.from_env(os.environ.get(LISTEN_ENV))
    if listening is not None:  # the workers share the metrics directory: the first one started says it
        shared_dir = os.environ.get(METRICS_DIR_ENV)
        gateway.on_started = lambda: announce_when_accepting(listening, shared_dir)
    return gateway


def _configure_logging(config: Config) -> None:
    """json_logs, set_verbose / debug, or LiteLLM's LITELLM_LOG=DEBUG|INFO|WARNING|ERROR."""
    settings = config.settings
    level = os.environ.get("LITELLM_LOG", "").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        level = "INFO"
    if settings.set_verbose or settings.debug:
        level = "DEBUG"
    configure_logging(json_logs=bool(settings.json_logs), level=level)


def _uvicorn_options(host: str, port: int) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": GatewayHttpProtocol,  # httptools, with header, time and connection limits (docs/security.md)
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        "log_config": None,  # uvicorn's lines go through our handler: same format, request id, redaction
        "timeout_graceful_shutdown": 30,
        "timeout_keep_alive": 30,
    }


def _run_one_worker(gateway: Gateway, host: str, port: int) -> int:
    """uvicorn on a socket bound here: the bound port is known and a port in use is a clear sentence."""
    options = uvicorn.Config(gateway, **_uvicorn_options(host, port))
    try:
        sock = listening_socket(host, port, options.backlog)
    except ValueError as error:
        return cannot_start(error, json_logs=gateway.settings.json_logs)
    gateway.on_started = lambda: announce(Listening(host, sock.getsockname()[1]))
    server = uvicorn.Server(options)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn handles the signal; a second Ctrl+C lands here
        server.run(sockets=[sock])
    return 0 if server.started else 1


def serve_from_args(args: argparse.Namespace) -> int:
    config = load_for_serving(args.config, _configure_logging, getattr(args, "env_file", None))
    if config is None:
        return 1
    workers = args.num_workers or int(os.environ.get("NUM_WORKERS", "1") or 1)
    _say(config, describe_shared_state(config.settings, os.environ, workers))
    try:  # sinks are built here so a missing setting stops the start with a message, not a traceback
        if workers > 1:
            build_observability(config.settings)  # checked only: each worker process builds its own gateway
            gateway = None
        else:
            gateway = build_gateway(config)
    except ValueError as error:
        return cannot_start(error, json_logs=config.settings.json_logs)
    if gateway is None:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
        os.environ[LISTEN_ENV] = Listening(args.host, args.port, workers).to_env()
        with shared_metrics_dir(), _shared_state_file(config):  # metrics added up, limits shared
            uvicorn.run(
                "bedrock_proxy.serve:create_app",
                factory=True,
                workers=workers,
                **_uvicorn_options(args.host, args.port),
            )
        return 0
    os.environ.pop(METRICS_DIR_ENV, None)  # one worker: its own metrics are the whole story, nothing written
    return _run_one_worker(gateway, args.host, args.port)


@contextlib.contextmanager
def _shared_state_file(config: Config) -> Iterator[None]:
    """Without Redis, the workers of this host share their limits in one SQLite file, removed at exit."""
    if shared_state_kind(config.settings, os.environ) == "redis":
        yield
        return
    with tempfile.TemporaryDirectory(prefix="bedrock-proxy-state-") as directory:
        os.environ[STATE_FILE_ENV] = os.path.join(directory, "limits.db")
        try:
            yield
        finally:
            os.environ.pop(STATE_FILE_ENV, None)


def _say(config: Config, line: str) -> None:
    """One start-up fact, as a log record with json_logs, else on stderr beside the config report."""
    if config.settings.json_logs:
        logging.getLogger("bedrock_proxy.config").info("%s", line)
    else:
        print(f"bedrock-proxy: {line}", file=sys.stderr)


def demo_from_args(args: argparse.Namespace) -> int:
    from bedrock_proxy.config import demo_config
    from bedrock_proxy.emulator.options import EmulatorOptions
    from bedrock_proxy.emulator.server import start_in_thread

    emulator = start_in_thread(EmulatorOptions(ttft=0.05, delta_gap=0.02))
    # the emulator verifies SigV4 against AWS's documented example key pair
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = DEMO_KEY_PAIR
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    config = load_config(args.config) if args.config else demo_config(emulator.url)
    if args.config:
        for deployment in config.deployments:
            deployment.endpoint = deployment.endpoint or emulator.url
    # A demo leaves nothing behind: its database (spend, stored responses) lives in a directory removed at
    # exit, unless the config (or DATABASE_URL) names a database itself.
    ledger_dir = tempfile.TemporaryDirectory(prefix="bedrock-proxy-demo-")
    if uses_default_file(config.settings, os.environ):
        config.settings.database_url = f"sqlite:///{ledger_dir.name}/bedrock-proxy.db"
    configure_logging(json_logs=False, level="INFO")
    base = f"http://{args.host}:{args.port}"
    print(
        f"""
Bedrock Proxy demo: the gateway on {base}, Bedrock emulated locally at {emulator.url}.
Models: {", ".join(config.groups())}

Try:
  curl {base}/v1/chat/completions \\
    -H "Content-Type: application/json" -H "Authorization: Bearer sk-1234" \\
    -d '{{"model": "claude-3-5-sonnet",
         "messages": [{{"role": "user", "content": "Bonjour, comment vas-tu?"}}]}}'

  curl {base}/health
Press Ctrl+C to stop.
""",
        flush=True,
    )
    try:
        return _run_one_worker(build_gateway(config), args.host, args.port)
    finally:
        emulator.stop()
        ledger_dir.cleanup()
