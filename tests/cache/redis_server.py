"""A real redis-server on a free port, started and stopped by the tests themselves."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import free_port
from tests.support.tls import TlsFiles, make_tls_files

INSTALL = "apt-get install -y redis-server"


class RedisServer:
    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.command("PING").startswith(b"+PONG"):
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def entries(self) -> int:
        return int(self.command("DBSIZE").strip()[1:])

    def wait_for_entries(self, count: int, timeout: float = 10.0) -> None:
        """Answers are stored just after they were sent: wait until `count` entries exist."""
        deadline = time.monotonic() + timeout
        while self.entries() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"Redis holds {self.entries()} entries, expected {count}")
            time.sleep(0.01)

    def restart(self) -> None:
        """A fresh, empty server on the same port (as after a crash and a restart)."""
        self.kill()
        self.process = self._spawn()
        self.wait_until_up()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def command(self, *words: str) -> bytes:
        """One RESP command over a plain socket (no client library), for checks from the outside."""
        payload = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(payload)
            return sock.recv(65536)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"redis-server is not installed; these tests need a real one: {INSTALL}", pytrace=False)
    server = RedisServer(binary, free_port())
    try:
        server.wait_until_up()
        yield server
    finally:
        server.kill()


@contextmanager
def tls_redis_server(folder: Path, password: str = "") -> Iterator[tuple[int, TlsFiles]]:
    """A redis-server that speaks TLS only (as ElastiCache with in-transit encryption): yields its port and
    the throwaway CA that signed its certificate."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"redis-server is not installed; these tests need a real one: {INSTALL}", pytrace=False)
    tls = make_tls_files(folder)
    port = free_port()
    args = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--tls-cert-file", tls.cert, "--tls-key-file", tls.key, "--tls-ca-cert-file", tls.ca]
    args += ["--tls-auth-clients", "no", "--appendonly", "no"]
    args += ["--requirepass", password] if password else []
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server with TLS did not start") from None
                time.sleep(0.02)
        yield port, tls
    finally:
        process.kill()
        process.wait(timeout=10)
