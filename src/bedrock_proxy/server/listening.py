"""The listening socket, and the one "listening on http://HOST:PORT" line a user waits for before sending
the first request.

The socket is bound here rather than inside uvicorn so that a port already in use stops the start with a
sentence saying what to do, and so that the bound port is known. The line is logged (so it is JSON with
json_logs) at the end of the gateway's lifespan start-up, when the socket is already listening. With
several workers each one waits until the shared port accepts connections: the first to get there claims a
marker file in the directory the workers share, so the line appears once, not once per worker.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass

logger = logging.getLogger("bedrock_proxy.server")

LISTEN_ENV = "BEDROCK_PROXY_LISTEN"  # "HOST PORT WORKERS", from `serve` to its worker processes
_CLAIM_NAME = ".listening-announced"  # a dot-file: the metrics merge skips it
_BIND_ADVICE: dict[int | None, str] = {  # by OSError.errno (which may be None)
    errno.EADDRINUSE: "another process has that port: stop it or choose another --port",
    errno.EACCES: "ports below 1024 need privileges: choose another --port",
    errno.EADDRNOTAVAIL: "that address is not one of this machine's: use --host 0.0.0.0 or 127.0.0.1",
}
_EVERY_INTERFACE = {"0.0.0.0": "every IPv4 interface", "::": "every interface", "": "every interface"}


@dataclass(frozen=True, slots=True)
class Listening:
    host: str
    port: int
    workers: int = 1

    def url(self, host: str | None = None) -> str:
        host = self.host if host is None else host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def message(self) -> str:
        """0.0.0.0 is where the server listens, not an address to send requests to: say so, and give one."""
        workers = f" with {self.workers} workers" if self.workers > 1 else ""
        line = f"bedrock-proxy listening on {self.url()}{workers}"
        if self.host in _EVERY_INTERFACE:
            line += f" ({_EVERY_INTERFACE[self.host]}; from this machine: {self.url('localhost')})"
        return line

    def to_env(self) -> str:
        return f"{self.host} {self.port} {self.workers}"

    @classmethod
    def from_env(cls, value: str | None) -> Listening | None:
        try:
            host, port, workers = (value or "").rsplit(" ", 2)
            return cls(host, int(port), int(workers))
        except ValueError:
            return None


def announce(listening: Listening, shared_dir: str | None = None) -> None:
    """Log the line, unless another worker sharing `shared_dir` already did."""
    if shared_dir is not None and not _claim(shared_dir):
        return
    logger.info(listening.message())


def announce_when_accepting(listening: Listening, shared_dir: str | None, timeout: float = 30.0) -> None:
    """For a worker of several: its lifespan start-up ends before uvicorn listens on the shared socket, so
    wait (in a thread, off the event loop) until the port accepts a connection, then announce."""

    def wait_then_announce() -> None:
        host = "127.0.0.1" if listening.host in _EVERY_INTERFACE else listening.host
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, listening.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.01)
        announce(listening, shared_dir)

    threading.Thread(target=wait_then_announce, name="announce-listening", daemon=True).start()


def _claim(shared_dir: str) -> bool:
    try:
        os.close(os.open(os.path.join(shared_dir, _CLAIM_NAME), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # the directory is gone or read-only: better twice than never
        return True
    return True


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; ValueError with advice when that is impossible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        advice = _BIND_ADVICE.get(error.errno, "check --host and --port")
        raise ValueError(f"cannot listen on {host}:{port}: {error.strerror or error}; {advice}") from error
    sock.set_inheritable(True)
    return sock
