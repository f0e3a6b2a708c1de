"""Issue 14, findings 4 and 5: what a connection may send before authentication is bounded (header size,
header count, header time, open connections) and every refusal, like a request that is not HTTP at all, is
answered in OpenAI's error shape. Each case is the issue's reproducer, against a real gateway process."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import seed_config
from tests.gateway.conftest import assert_openai_error, call
from tests.support.processes import clean_env, free_port, running

HEADER_TIMEOUT = 1.0
MAX_CONNECTIONS = 20


class Gateway:
    def __init__(self, url: str, pid: int) -> None:
        self.url = url
        self.pid = pid
        parts = urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def connect(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=10)


@pytest.fixture(scope="module")
def bounded(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The seed's config with a 1 s header time and 20 connections, so the tests need not wait long."""
    extra = f"  request_header_timeout: {HEADER_TIMEOUT}\n  max_connections: {MAX_CONNECTIONS}\n"
    config = seed_config().replace("general_settings:\n", "general_settings:\n" + extra)
    tmp = tmp_path_factory.mktemp("bounded")
    port = free_port()
    (tmp / "config.yaml").write_text(config)
    env = clean_env(
        {"AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url, "DATABASE_URL": f"sqlite:///{tmp}/spend.db"}
    )
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--config", str(tmp / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)]
    with running(args, f"{url}/health/readiness", env) as process:
        yield Gateway(url, process.pid)


def exchange(gateway: Gateway, data: bytes, *, chunk: int = 1 << 20) -> bytes:
    """Send `data` (stopping when the gateway closes), then read the whole answer."""
    with gateway.connect() as sock:
        try:
            for start in range(0, len(data), chunk):
                sock.sendall(data[start : start + chunk])
        except OSError:
            pass  # closed after its answer: what we want to read
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while part := sock.recv(65536):
            answer += part
    except OSError:
        pass
    return answer


def parse(answer: bytes) -> tuple[int, bytes, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.lower(), json.loads(body)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello to the plain HTTP port
    ],
    ids=["no-colon", "garbage", "control-char", "two-lengths", "negative-length", "tls-hello"],
)
def test_a_request_that_is_not_http_gets_an_openai_error(bounded: Gateway, request_bytes: bytes) -> None:
    """uvicorn used to answer these with the plain text 'Invalid HTTP request received.'."""
    status, head, body = parse(exchange(bounded, request_bytes))
    assert status == 400 and b"content-type: application/json" in head
    assert_openai_error(body, code="invalid_http_request")


def test_a_50_mb_header_is_refused_without_memory_growth(bounded: Gateway) -> None:
    """One 50 MB header used to get a 200; eight at once took a fresh gateway from 57 to 547 MB RSS."""
    before = bounded.rss_mb()
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (50 * 1024 * 1024) + b"\r\n\r\n"
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(exchange(bounded, request))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8
    for answer in answers:
        status, _, body = parse(answer)
        assert status == 431
        assert "max_request_header_size_kb" in assert_openai_error(body)["message"]
    assert bounded.rss_mb() - before < 20, (before, bounded.rss_mb())


def test_100000_headers_are_refused(bounded: Gateway) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 100_000 + b"\r\n"
    status, _, body = parse(exchange(bounded, request))
    assert status == 431
    assert_openai_error(body, code="request_header_fields_too_large")


def test_101_small_headers_are_refused_and_100_are_served(bounded: Gateway) -> None:
    def with_headers(count: int) -> bytes:
        fields = b"".join(b"X-H%d: v\r\n" % i for i in range(count - 2))
        return b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + fields + b"\r\n"

    assert parse(exchange(bounded, with_headers(101)))[0] == 431
    assert exchange(bounded, with_headers(100)).startswith(b"HTTP/1.1 200")


def test_a_slow_header_sender_is_cut_off(bounded: Gateway) -> None:
    """Slowloris: 200 connections sending a header byte now and then used to stay open for 60 s."""
    started = time.monotonic()
    with bounded.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(10):
                time.sleep(0.3)
                sock.sendall(b"X")  # never a complete header
        except OSError:
            pass
        answer = read_all(sock)
    elapsed = time.monotonic() - started
    status, _, body = parse(answer)
    assert status == 408 and HEADER_TIMEOUT <= elapsed < HEADER_TIMEOUT + 2.5
    assert "request_header_timeout" in assert_openai_error(body, code="request_header_timeout")["message"]


def test_an_idle_connection_that_never_sends_is_closed(bounded: Gateway) -> None:
    with bounded.connect() as sock:
        started = time.monotonic()
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < HEADER_TIMEOUT + 2.5


def test_connections_beyond_the_limit_are_refused_and_the_gateway_serves_after(bounded: Gateway) -> None:
    held = [bounded.connect() for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)
        with bounded.connect() as extra:
            answer = read_all(extra)
        status, head, body = parse(answer)
        assert status == 503 and b"retry-after: 1" in head
        assert "max_connections" in assert_openai_error(body, code="too_many_connections")["message"]
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert call(f"{bounded.url}/health/liveliness", key=None)[0] == 200


def test_the_default_limits_hold_on_the_default_gateway(gateway_url: str) -> None:
    """No setting needed: the defaults refuse the issue's reproducers too."""
    parts = urlsplit(gateway_url)
    gateway = Gateway(gateway_url, 0)
    gateway.address = (parts.hostname or "127.0.0.1", parts.port or 80)
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    assert parse(exchange(gateway, big))[0] == 431
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 1000 + b"\r\n"
    assert parse(exchange(gateway, many))[0] == 431
