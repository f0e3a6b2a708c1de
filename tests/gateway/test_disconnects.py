"""A client that leaves cancels its upstream call, whatever the request was waiting for: a whole answer, an
embedding, or a stream's first token. The proof is taken on the wire (the gateway's connection to Bedrock
closes, see relay.py) and in /metrics (the request is counted as a 499)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import metric, metric_samples
from tests.gateway.conftest import MASTER_KEY
from tests.gateway.relay import Connection, TcpRelay
from tests.support.processes import gateway_process

UPSTREAM_SECONDS = 5.0  # what each slow call below would take upstream if nobody left
CLIENT_STAYS = 0.5


def config(emulator_url: str, relay_port: int) -> str:
    relayed = f"http://127.0.0.1:{relay_port}"
    return f"""
model_list:
  - model_name: relayed-chat
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {relayed}
  - model_name: relayed-embed
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {relayed}/_emu/latency={UPSTREAM_SECONDS}
litellm_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="module")
def own_relay(emulator_url: str) -> Iterator[TcpRelay]:
    with TcpRelay(int(emulator_url.rsplit(":", 1)[1])) as tcp_relay:
        yield tcp_relay


@pytest.fixture(scope="module")
def gateway(
    emulator_url: str, own_relay: TcpRelay, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("disconnects")
    with gateway_process(config(emulator_url, own_relay.port), tmp, emulator_url=emulator_url) as url:
        yield url


def request_bytes(host: str, path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def send_then_leave(gateway_url: str, path: str, body: dict, stay: float) -> float:
    """POST with a raw socket, read nothing, close after `stay` seconds; returns when the client left."""
    host, port = gateway_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request_bytes(host, path, body))
        time.sleep(stay)
        left_at = time.monotonic()
    return left_at


def upstream_closed(relay: TcpRelay, known: int, timeout: float) -> list[Connection]:
    """The upstream connections opened since `known`, once every one of them closed (or [] on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = relay.connections[known:]
        if new and all(c.closed_at is not None for c in new):
            return new
        time.sleep(0.05)
    return []


def closed_requests(gateway_url: str, model_group: str) -> float:
    return metric(
        metric_samples(gateway_url), "bedrock_proxy_requests_total", model_group=model_group, status="499"
    )


def counted_eventually(gateway_url: str, model_group: str, expected: float) -> float:
    deadline = time.monotonic() + 5
    while (seen := closed_requests(gateway_url, model_group)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


SLOW = {"role": "user", "content": f"Bonjour [[emu:latency={UPSTREAM_SECONDS}]]"}
CASES = [
    ("/v1/chat/completions", {"model": "relayed-chat", "messages": [SLOW]}),
    (
        "/v1/chat/completions",
        {
            "model": "relayed-chat",
            "stream": True,
            "messages": [{"role": "user", "content": f"Bonjour [[emu:ttft={UPSTREAM_SECONDS}]]"}],
        },
    ),
    ("/v1/embeddings", {"model": "relayed-embed", "input": "Bonjour"}),
]


@pytest.mark.parametrize(("path", "body"), CASES, ids=["chat", "stream-before-first-token", "embeddings"])
def test_a_client_that_leaves_early_closes_the_upstream_connection_and_is_counted_as_499(
    gateway: str, own_relay: TcpRelay, path: str, body: dict
) -> None:
    group = body["model"]
    before = closed_requests(gateway, group)
    known = len(own_relay.connections)
    left_at = send_then_leave(gateway, path, body, CLIENT_STAYS)
    upstream = upstream_closed(own_relay, known, UPSTREAM_SECONDS + 3)
    assert upstream, "the gateway never opened, or never closed, its Bedrock connection"
    assert len(upstream) == 1
    assert upstream[0].closed_at - left_at < UPSTREAM_SECONDS - 2, "closed well before the upstream answer"
    assert counted_eventually(gateway, group, before + 1) == before + 1


def test_a_client_that_stays_still_gets_its_answer_on_a_kept_alive_connection(
    gateway: str, own_relay: TcpRelay
) -> None:
    known = len(own_relay.connections)
    host, port = gateway.removeprefix("http://").split(":")
    body = {"model": "relayed-chat", "messages": [{"role": "user", "content": "Bonjour"}]}
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        stream = sock.makefile("rb")
        for _ in range(2):  # twice on one connection: the watcher must not end the second request
            sock.sendall(request_bytes(host, "/v1/chat/completions", body))
            status = stream.readline()
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = json.loads(stream.read(length))
            assert status.startswith(b"HTTP/1.1 200"), status
            assert answer["choices"][0]["message"]["content"]
    # the upstream connection answered in full, so it went back to the pool rather than being closed
    assert all(c.closed_at is None for c in own_relay.connections[known:])
