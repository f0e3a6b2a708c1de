"""A loopback HTTP receiver standing in for Slack's incoming webhook (or any webhook): it keeps every JSON
body POSTed to it, per path, and answers each path with the status a test chose."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.bodies: dict[str, list[Any]] = {}
        self.statuses: dict[str, int] = {}  # path -> status to answer (default 200)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.bodies.setdefault(self.path, []).append(json.loads(raw or b"null"))
                status = receiver.statuses.get(self.path, 200)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, path: str) -> list[Any]:
        with self._lock:
            return list(self.bodies.get(path, []))

    def wait_for(self, path: str, select: Any = list, timeout: float = 20.0) -> list[Any]:
        """`select(bodies POSTed to path)` once it is not empty; fails with what arrived otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            selected = select(self.received(path))
            if selected:
                return selected
            time.sleep(0.05)
        raise AssertionError(f"{path} received {self.received(path)!r} within {timeout} s")
