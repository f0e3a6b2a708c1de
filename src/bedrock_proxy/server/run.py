"""Start the gateway under uvicorn (httptools parser, uvloop): `serve` from a config file, `demo` against an
in-process Bedrock emulator."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from bedrock_proxy.config import format_report, load_config, load_or_report
from bedrock_proxy.config.dotenv import apply_dotenv, describe
from bedrock_proxy.observability.hub import Observability
from bedrock_proxy.observability.logs import configure_logging
from bedrock_proxy.observability.multiprocess import METRICS_DIR_ENV, shared_metrics_dir
from bedrock_proxy.preflight import full_report
from bedrock_proxy.server.app import Gateway

CONFIG_ENV = "BEDROCK_PROXY_CONFIG"
DEMO_KEY_PAIR = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def create_app() -> Gateway:
    """App factory for worker processes: each worker loads the config named by BEDROCK_PROXY_CONFIG."""
    config = load_config(os.environ[CONFIG_ENV])
    _configure_logging(config)
    return Gateway(config)


def _configure_logging(config: object) -> None:
    """json_logs, set_verbose / debug, or LiteLLM's LITELLM_LOG=DEBUG|INFO|WARNING|ERROR."""
    settings = config.settings  # type: ignore[attr-defined]
    level = os.environ.get("LITELLM_LOG", "").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        level = "INFO"
    if settings.set_verbose or settings.debug:
        level = "DEBUG"
    configure_logging(json_logs=bool(settings.json_logs), level=level)


def _uvicorn_options(host: str, port: int) -> dict:
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        "log_config": None,  # uvicorn's lines go through our handler: same format, request id, redaction
        "timeout_graceful_shutdown": 30,
        "timeout_keep_alive": 30,
    }


def serve_from_args(args: argparse.Namespace) -> int:
    note = describe(apply_dotenv(args.config, os.environ, getattr(args, "env_file", None)))
    if note:
        print(f"bedrock-proxy: {note}", file=sys.stderr)
    config = load_or_report(args.config, "bedrock-proxy", "fix them and start again.")
    if config is None:
        return 1
    issues = full_report(config, os.environ)  # exactly what check-config reports
    if issues:
        print(format_report(issues), file=sys.stderr)
    if any(issue.level == "error" for issue in issues):
        print(f"bedrock-proxy: {args.config} cannot start; fix the errors above.", file=sys.stderr)
        return 1
    workers = args.num_workers or int(os.environ.get("NUM_WORKERS", "1") or 1)
    _configure_logging(config)
    try:  # sinks are built here so a missing setting stops the start with a message, not a traceback
        gateway = Gateway(config) if workers == 1 else Observability.from_settings(config.settings)
    except ValueError as error:
        print(f"bedrock-proxy: cannot start: {error}.", file=sys.stderr)
        return 1
    if workers > 1:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
        with shared_metrics_dir():  # each worker publishes its metrics there; /metrics adds them all up
            uvicorn.run(
                "bedrock_proxy.server.run:create_app",
                factory=True,
                workers=workers,
                **_uvicorn_options(args.host, args.port),
            )
        return 0
    os.environ.pop(METRICS_DIR_ENV, None)  # one worker: its own metrics are the whole story, nothing written
    uvicorn.run(gateway, **_uvicorn_options(args.host, args.port))
    return 0


def demo_from_args(args: argparse.Namespace) -> int:
    from bedrock_proxy.config import demo_config
    from bedrock_proxy.emulator.server import EmulatorOptions, start_in_thread

    emulator = start_in_thread(EmulatorOptions(ttft=0.05, delta_gap=0.02))
    # the emulator verifies SigV4 against AWS's documented example key pair
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = DEMO_KEY_PAIR
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
    config = load_config(args.config) if args.config else demo_config(emulator.url)
    if args.config:
        for deployment in config.deployments:
            deployment.endpoint = deployment.endpoint or emulator.url
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
        uvicorn.run(Gateway(config), **_uvicorn_options(args.host, args.port))
    finally:
        emulator.stop()
    return 0
