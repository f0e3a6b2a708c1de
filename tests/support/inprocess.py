"""Servers run in a thread of the test process: a plain HTTP server for a handler class, and the gateway
itself under uvicorn, for the tests that must hand it a part a real process could not be given (an image
fetcher allowed to reach 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

from bedrock_proxy.config import load_config_text
from bedrock_proxy.wiring import build_gateway
from tests.support.processes import EXAMPLE_KEY_PAIR, free_port


def emulator_deployment(emulator_url: str, name: str, model_id: str) -> str:
    """One model_list entry on the emulator, its credentials in the config: the in-process gateway is
    built with an empty environment."""
    return f"""  - model_name: {name}
    litellm_params:
      model: bedrock/{model_id}
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {emulator_url}
      aws_access_key_id: {EXAMPLE_KEY_PAIR["AWS_ACCESS_KEY_ID"]}
      aws_secret_access_key: {EXAMPLE_KEY_PAIR["AWS_SECRET_ACCESS_KEY"]}
"""


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def gateway_in_thread(config: str, **parts: Any) -> Iterator[str]:
    """The gateway built from `config` (and the `parts` build_gateway takes), served by uvicorn in a
    thread; yields its base URL once it listens."""
    app = build_gateway(load_config_text(config, environ={}), environ={}, **parts)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the in-process gateway did not start within 20 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
