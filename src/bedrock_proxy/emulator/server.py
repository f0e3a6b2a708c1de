"""Running the emulator: `bedrock-proxy emulator` (uvicorn until SIGTERM), or in a thread for tests."""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from types import FrameType, TracebackType

import uvicorn

from bedrock_proxy.emulator.app import EmulatorApp, create_app
from bedrock_proxy.emulator.options import EmulatorOptions


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM/SIGINT ends `run()` normally instead of being re-raised afterwards."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def _config(app: EmulatorApp, options: EmulatorOptions, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
        lifespan="off",
        timeout_keep_alive=75,
        backlog=4096,
        timeout_graceful_shutdown=3,
        ssl_certfile=options.tls_certfile,
        ssl_keyfile=options.tls_keyfile,
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Entry point of `bedrock-proxy emulator`: serve until SIGTERM/SIGINT; 2 on bad options."""
    try:
        options = EmulatorOptions.from_args(args)
    except ValueError as exc:
        print(f"bedrock-proxy emulator: {exc}", file=sys.stderr)
        return 2
    auth = "off (--no-verify)" if not options.verify else f"SigV4 with access key {options.access_key}"
    if options.bearer_token and options.verify:
        auth += " or the bearer token"
    url = f"{options.scheme}://{args.host}:{args.port}"
    print(
        f"Bedrock emulator on {url} (region {options.region}, auth {auth}).\n"
        f"  boto3: boto3.client('bedrock-runtime', endpoint_url='{url}', region_name='{options.region}')",
        flush=True,
    )
    if options.bearer_token and not options.tls_certfile:
        print(
            "  note: botocore sends AWS_BEARER_TOKEN_BEDROCK only over HTTPS; add --tls-cert and --tls-key"
            " for boto3 clients that use the bearer token",
            flush=True,
        )
    _Server(_config(create_app(options), options, args.host, args.port)).run()
    return 0


class RunningEmulator:
    """An emulator served from a background thread; `.url` to call it, `.stop()` (or `with`) to end it."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        app: EmulatorApp,
        host: str,
        port: int,
        scheme: str = "http",
    ) -> None:
        self._server = server
        self._thread = thread
        self._app = app
        self.host = host
        self.port = port
        self.url = f"{scheme}://{host}:{port}"

    @property
    def app(self) -> EmulatorApp:
        """The served EmulatorApp (its stats, in tests)."""
        return self._app

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_in_thread(
    options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Serve on a free port (port 0) from a daemon thread; returns once it accepts connections."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    options = options or EmulatorOptions()
    app = create_app(options)
    server = uvicorn.Server(_config(app, options, host, bound_port))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bedrock-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Bedrock emulator did not start")
        time.sleep(0.005)
    return RunningEmulator(server, thread, app, host, bound_port, options.scheme)
