"""What the gateway does before it reads a request's body: it checks the key from the headers alone, so a
stranger neither makes it buffer a large body nor leaves their messages in Langfuse or the webhook; and it
keeps a client's x-request-id only when it is a plain token."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.support import (
    CHAT_MODEL,
    LANGFUSE_PUBLIC_KEY,
    LANGFUSE_SECRET_KEY,
    MASTER_KEY,
    Gateway,
    chat,
    config_text,
    eventually,
    gateway,
    langfuse_env,
    metric,
    metric_samples,
    new_id,
)
from tests.e2e.test_legacy_and_webhook import SINKS, WebhookReceiver
from tests.fakes.langfuse_server import FakeLangfuse

TEN_MB = 10 * 1024 * 1024
SECRET = "le code du coffre est 4970"


@pytest.fixture(scope="module")
def fake_langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def proxy(
    fake_langfuse: FakeLangfuse,
    webhook: WebhookReceiver,
    emulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    env = langfuse_env(fake_langfuse.url, WEBHOOK_URL=webhook.url, LANGFUSE_INGESTION="legacy")
    with gateway(
        config_text(SINKS), tmp_path_factory.mktemp("admission"), emulator_url=emulator_url, env=env
    ) as running:
        yield running


def head_of(path: str, host: str, key: str | None, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {TEN_MB}\r\n{extra}\r\n"
    ).encode()


def first_status(sock: socket.socket) -> int:
    """The status of the first response line the gateway sends (a 100 Continue counts)."""
    line = sock.makefile("rb").readline()
    assert line.startswith(b"HTTP/1.1 "), line
    return int(line.split()[1])


def connect(proxy: Gateway) -> tuple[socket.socket, str]:
    host, port = proxy.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10), host


@pytest.mark.parametrize(
    ("key", "expected"),
    [(None, 401), ("sk-not-a-key", 401), (MASTER_KEY, 100)],
    ids=["no-key", "wrong-key", "valid-key-is-asked-for-its-body"],
)
def test_a_request_that_expects_100_continue_is_refused_before_its_body_is_sent(
    proxy: Gateway, key: str | None, expected: int
) -> None:
    sock, host = connect(proxy)
    with sock:
        sock.sendall(head_of("/v1/chat/completions", host, key, "Expect: 100-continue\r\n"))
        assert first_status(sock) == expected


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/chat/completions"])
def test_a_stranger_gets_401_while_still_sending_a_10_mb_body(proxy: Gateway, path: str) -> None:
    sock, host = connect(proxy)
    with sock:
        sock.sendall(head_of(path, host, None) + b"x" * 65536)  # the other 9.9 MB never come
        assert first_status(sock) == 401


def test_a_refused_request_leaves_no_messages_in_langfuse_or_the_webhook_but_is_counted(
    proxy: Gateway, fake_langfuse: FakeLangfuse, webhook: WebhookReceiver
) -> None:
    before = metric(metric_samples(proxy.url), "bedrock_proxy_requests_total", status="401")
    refused = new_id()
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": SECRET}],
        "metadata": {"tags": ["stranger"]},
        "user": "stranger",
    }
    request = urllib.request.Request(
        f"{proxy.url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-request-id": refused, "Authorization": "Bearer nope"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    assert json.loads(caught.value.read())["error"]["code"] == "invalid_api_key"
    # a request with a key, sent after: once its records arrived, the refused one would have too
    answered = new_id()
    assert chat(proxy.url, answered).status == 200
    eventually(lambda: webhook.for_request(answered), message="the webhook got nothing")
    eventually(
        lambda: any(e["body"].get("id") == answered for e in fake_langfuse.events),
        message="Langfuse got nothing",
    )
    assert webhook.for_request(refused) == []
    assert SECRET not in json.dumps(webhook.received, ensure_ascii=False)
    assert refused not in json.dumps(fake_langfuse.events)
    assert SECRET not in json.dumps(fake_langfuse.events, ensure_ascii=False)
    after = metric(metric_samples(proxy.url), "bedrock_proxy_requests_total", status="401")
    assert after == before + 1


@pytest.mark.parametrize(
    ("supplied", "kept"),
    [
        ("req-42_a.b:c", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("two words", False),
        ("<script>alert(1)</script>", False),
        ("line\tbreak", False),
        ("café", False),
    ],
    ids=["token", "128-chars", "129-chars", "space", "markup", "tab", "non-ascii"],
)
def test_a_client_request_id_is_kept_only_when_it_is_a_plain_token(
    proxy: Gateway, supplied: str, kept: bool
) -> None:
    request = urllib.request.Request(
        f"{proxy.url}/v1/chat/completions",
        data=json.dumps({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Bonjour"}]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"},
    )
    request.add_header("x-request-id", supplied)
    with urllib.request.urlopen(request, timeout=30) as response:
        echoed = response.headers["x-request-id"]
        answer = json.loads(response.read())
    if kept:
        assert echoed == supplied
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), echoed
    assert answer["id"] == f"chatcmpl-{echoed}"
