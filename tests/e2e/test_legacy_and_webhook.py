"""Langfuse's legacy ingestion (self-hosted v2/v3) and the webhook sink, end to end through the gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import Usage
from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    EMBED_MODEL,
    EMBED_MODEL_ID,
    REGION,
    Gateway,
    chat,
    config_text,
    eventually,
    gateway,
    langfuse_env,
    new_id,
    post,
)
from tests.fakes.langfuse_server import FakeLangfuse

SINKS = """  success_callback: ["langfuse", "webhook"]
  failure_callback: ["langfuse", "webhook"]
"""
HOOK_TOKEN = "hook-token-abcdef"


class WebhookReceiver:
    """A tiny HTTP server that keeps every POSTed JSON body and its headers."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def for_request(self, request_id: str) -> list[tuple[dict[str, str], Any]]:
        with self.lock:
            return [(h, b) for h, b in self.received if b.get("request_id") == request_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def sink_env(fake: FakeLangfuse, hook: WebhookReceiver, **extra: str) -> dict[str, str]:
    return langfuse_env(
        fake.url,
        WEBHOOK_URL=hook.url,
        WEBHOOK_HEADERS=json.dumps({"Authorization": f"Bearer {HOOK_TOKEN}"}),
        **extra,
    )


@pytest.fixture(scope="module")
def proxy(
    fake_langfuse: FakeLangfuse,
    webhook: WebhookReceiver,
    emulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    with gateway(
        config_text(SINKS),
        tmp_path_factory.mktemp("legacy"),
        emulator_url=emulator_url,
        env=sink_env(fake_langfuse, webhook, LANGFUSE_INGESTION="legacy"),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def private_proxy(
    fake_langfuse: FakeLangfuse,
    webhook: WebhookReceiver,
    emulator_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """turn_off_message_logging: true for the whole gateway, Langfuse over OTLP."""
    with gateway(
        config_text(SINKS + "  turn_off_message_logging: true\n"),
        tmp_path_factory.mktemp("private"),
        emulator_url=emulator_url,
        env=sink_env(fake_langfuse, webhook),
    ) as running:
        yield running


def events_of(fake: FakeLangfuse, request_id: str) -> dict[str, dict[str, Any]]:
    """The request's trace-create and generation-create bodies, once both arrived."""

    def find() -> dict[str, dict[str, Any]] | None:
        found: dict[str, dict[str, Any]] = {}
        for event in fake.events:
            body = event["body"]
            if event["type"] == "trace-create" and body.get("id") == request_id:
                found["trace"] = body
            elif event["type"] == "generation-create" and body.get("traceId") == request_id:
                found["generation"] = body
        return found if len(found) == 2 else None

    return eventually(find, message=f"legacy events of {request_id} did not arrive")


def cost_of(model_id: str, usage: dict[str, int]) -> float:
    costs = cost_for(model_id, REGION, Usage(usage["prompt_tokens"], usage.get("completion_tokens", 0)))
    assert costs is not None
    return sum(costs)


def test_legacy_ingestion_gets_a_trace_and_a_generation_with_every_field(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    messages = [{"role": "user", "content": "Bonjour, comment vas-tu?"}]
    metadata = {"user_id": "u-legacy", "session_id": "s-legacy", "environment": "production", "tags": ["x"]}
    answer = chat(
        proxy.url, request_id, messages=messages, temperature=0.5, max_tokens=100, metadata=metadata
    )
    assert answer.status == 200
    usage = answer.body["usage"]
    found = events_of(fake_langfuse, request_id)
    trace, generation = found["trace"], found["generation"]
    assert trace["userId"] == "u-legacy"
    assert trace["sessionId"] == "s-legacy"
    assert trace["tags"] == ["x"]
    assert trace["environment"] == "production"
    assert trace["input"] == messages
    assert generation["model"] == CHAT_MODEL_ID
    assert generation["modelParameters"]["temperature"] == 0.5
    assert generation["modelParameters"]["max_tokens"] == 100
    assert generation["input"] == messages
    assert generation["output"]["content"] == answer.body["choices"][0]["message"]["content"]
    assert generation["usageDetails"] == {
        "input": usage["prompt_tokens"],
        "output": usage["completion_tokens"],
        "total": usage["total_tokens"],
    }
    assert generation["costDetails"]["total"] == pytest.approx(cost_of(CHAT_MODEL_ID, usage), rel=1e-6)
    assert generation["level"] == "DEFAULT"
    assert generation["metadata"]["deployment_id"] == f"{CHAT_MODEL}#0"
    assert generation["metadata"]["region"] == REGION
    assert generation["startTime"] < generation["endTime"]


def test_legacy_stream_generation_has_a_completion_start_time(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(proxy.url, request_id, stream=True, stream_options={"include_usage": True})
    assert answer.status == 200
    generation = events_of(fake_langfuse, request_id)["generation"]
    assert generation["startTime"] <= generation["completionStartTime"] <= generation["endTime"]


def test_legacy_failure_is_an_error_generation_with_the_message(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url, request_id, messages=[{"role": "user", "content": "x [[emu:fault=access-denied]]"}]
    )
    assert answer.status == 403
    generation = events_of(fake_langfuse, request_id)["generation"]
    assert generation["level"] == "ERROR"
    assert generation["statusMessage"] == answer.body["error"]["message"]


def test_webhook_gets_one_post_per_request_with_the_record_and_its_headers(
    proxy: Gateway, webhook: WebhookReceiver
) -> None:
    request_id = new_id()
    answer = chat(proxy.url, request_id, metadata={"tags": ["hooked"]}, user="hook-user")
    assert answer.status == 200
    [(headers, record)] = eventually(lambda: webhook.for_request(request_id))
    assert headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    usage = answer.body["usage"]
    assert record["model_group"] == CHAT_MODEL
    assert record["bedrock_model_id"] == CHAT_MODEL_ID
    assert record["status"] == 200
    assert record["user"] == "hook-user"
    assert record["metadata"] == {"tags": ["hooked"]}
    assert record["usage"]["prompt_tokens"] == usage["prompt_tokens"]
    assert record["usage"]["completion_tokens"] == usage["completion_tokens"]
    assert record["cost"] == pytest.approx(float(answer.headers["x-litellm-response-cost"]), rel=1e-6)
    assert record["latency"] > 0 and record["upstream_latency"] > 0
    assert len(record["attempts"]) == 1


def test_webhook_gets_failures_and_embeddings_too(proxy: Gateway, webhook: WebhookReceiver) -> None:
    failing, embedding = new_id(), new_id()
    assert chat(proxy.url, failing, model="no-such-model").status == 404
    assert (
        post(f"{proxy.url}/v1/embeddings", {"model": EMBED_MODEL, "input": "x"}, request_id=embedding).status
        == 200
    )
    [(_, failed)] = eventually(lambda: webhook.for_request(failing))
    assert failed["status"] == 404 and failed["error_type"] == "model_not_found"
    [(_, embedded)] = eventually(lambda: webhook.for_request(embedding))
    assert embedded["kind"] == "embedding" and embedded["bedrock_model_id"] == EMBED_MODEL_ID


def test_turn_off_message_logging_keeps_messages_out_of_every_sink(
    private_proxy: Gateway, fake_langfuse: FakeLangfuse, webhook: WebhookReceiver
) -> None:
    request_id = new_id()
    answer = chat(private_proxy.url, request_id, messages=[{"role": "user", "content": "mon mot de passe"}])
    assert answer.status == 200
    [(_, record)] = eventually(lambda: webhook.for_request(request_id))
    assert record["input"] is None and record["output"] is None
    assert record["usage"]["prompt_tokens"] > 0

    def generation() -> dict[str, Any] | None:
        return next(
            (
                s
                for s in fake_langfuse.spans
                if s["attributes"].get("langfuse.observation.metadata.request_id") == request_id
                and s["attributes"]["langfuse.observation.type"] == "generation"
            ),
            None,
        )

    attrs = eventually(generation)["attributes"]
    assert "langfuse.observation.input" not in attrs and "langfuse.observation.output" not in attrs
    assert "mot de passe" not in json.dumps(fake_langfuse.spans)
    assert "mot de passe" not in json.dumps(webhook.received)


@pytest.mark.parametrize(
    ("metadata", "expected_input", "expected_output"),
    [
        ({"mask_input": True}, "redacted-by-bedrock-proxy", "answer"),
        ({"mask_output": "true"}, "messages", "redacted-by-bedrock-proxy"),
        ({"turn_off_message_logging": True}, None, None),
    ],
    ids=["mask-input", "mask-output", "per-request-turn-off"],
)
def test_per_request_message_opt_outs_hold_for_the_webhook_too(
    proxy: Gateway, webhook: WebhookReceiver, metadata: dict, expected_input: Any, expected_output: Any
) -> None:
    request_id = new_id()
    secret = "mon numéro de carte 4970"
    answer = chat(proxy.url, request_id, messages=[{"role": "user", "content": secret}], metadata=metadata)
    assert answer.status == 200
    [(_, record)] = eventually(lambda: webhook.for_request(request_id))
    if expected_input == "messages":
        assert secret in json.dumps(record["input"], ensure_ascii=False)
    else:
        assert record["input"] == expected_input
    if expected_output == "answer":
        assert record["output"]["content"] == answer.body["choices"][0]["message"]["content"]
    else:
        assert record["output"] == expected_output
