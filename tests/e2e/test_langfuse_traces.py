"""Real requests through a real gateway (emulator behind it) arrive at Langfuse (OTLP) with every field."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from bedrock_proxy.observability import otlp
from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import Usage
from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    EMBED_MODEL,
    EMBED_MODEL_ID,
    MASTER_KEY,
    REGION,
    Gateway,
    chat,
    drop_a_stream,
    eventually,
    new_id,
    post,
)
from tests.fakes.langfuse_server import FakeLangfuse
from tests.support.seed import WEATHER_TOOL

REDACTED = "redacted-by-bedrock-proxy"


def spans_of(fake: FakeLangfuse, request_id: str) -> list[dict[str, Any]]:
    """Every span of the trace holding the request's generation, once that generation has arrived."""

    def find() -> list[dict[str, Any]] | None:
        spans = fake.spans
        generation = next(
            (
                s
                for s in spans
                if s["attributes"].get("langfuse.observation.metadata.request_id") == request_id
                and s["attributes"].get("langfuse.observation.type") in ("generation", "embedding")
            ),
            None,
        )
        if generation is None:
            return None
        return [s for s in spans if s["trace_id"] == generation["trace_id"]]

    return eventually(find, message=f"no generation for {request_id} reached Langfuse")


def generation_of(spans: list[dict[str, Any]]) -> dict[str, Any]:
    [generation] = [
        s for s in spans if s["attributes"]["langfuse.observation.type"] in ("generation", "embedding")
    ]
    return generation


def expected_cost(model_id: str, usage: dict[str, int]) -> float:
    costs = cost_for(model_id, REGION, Usage(usage["prompt_tokens"], usage.get("completion_tokens", 0)))
    assert costs is not None
    return costs[0] + costs[1]


def as_seconds(ns: int) -> float:
    return ns / 1e9


def test_chat_is_one_trace_with_a_generation_carrying_model_params_messages_usage_and_cost(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    messages = [{"role": "user", "content": "Explique-moi l'IA en 3 phrases"}]
    metadata = {
        "user_id": "user-123",
        "session_id": "session-456",
        "environment": "production",
        "tags": ["seed", "e2e"],
    }
    answer = chat(
        proxy.url, request_id, messages=messages, max_tokens=200, temperature=0.7, metadata=metadata
    )
    assert answer.status == 200
    assert answer.headers["x-request-id"] == request_id
    usage = answer.body["usage"]
    cost = expected_cost(CHAT_MODEL_ID, usage)
    assert float(answer.headers["x-litellm-response-cost"]) == pytest.approx(cost, rel=1e-6)
    assert float(answer.headers["x-bedrock-proxy-overhead-ms"]) >= 0

    spans = spans_of(fake_langfuse, request_id)
    assert len(spans) == 2, "a root span and the generation, nothing else for a single attempt"
    generation = generation_of(spans)
    [root] = [s for s in spans if s is not generation]
    attrs = generation["attributes"]
    assert generation["trace_id"] == otlp.hex_id(request_id, 32)
    assert generation["parent_span_id"] == root["span_id"]
    assert attrs["langfuse.observation.type"] == "generation"
    assert attrs["langfuse.observation.model.name"] == CHAT_MODEL_ID
    assert attrs["langfuse.observation.metadata.model_group"] == CHAT_MODEL
    assert attrs["langfuse.observation.metadata.deployment_id"] == f"{CHAT_MODEL}#0"
    assert attrs["langfuse.observation.metadata.region"] == REGION
    assert attrs["langfuse.observation.metadata.status"] == 200
    params = json.loads(attrs["langfuse.observation.model.parameters"])
    assert params["temperature"] == 0.7 and params["max_tokens"] == 200
    assert json.loads(attrs["langfuse.observation.input"]) == messages
    output = json.loads(attrs["langfuse.observation.output"])
    assert output["content"] == answer.body["choices"][0]["message"]["content"]
    assert json.loads(attrs["langfuse.observation.usage_details"]) == {
        "input": usage["prompt_tokens"],
        "output": usage["completion_tokens"],
        "total": usage["total_tokens"],
    }
    assert json.loads(attrs["langfuse.observation.cost_details"])["total"] == pytest.approx(cost, rel=1e-6)
    assert attrs["langfuse.observation.level"] == "DEFAULT"
    for span in spans:  # trace attributes ride on every span
        assert span["attributes"]["user.id"] == "user-123"
        assert span["attributes"]["session.id"] == "session-456"
        assert span["attributes"]["langfuse.environment"] == "production"
        assert span["attributes"]["langfuse.trace.tags"] == ["seed", "e2e"]
    assert root["attributes"]["langfuse.trace.name"] == f"chat {CHAT_MODEL}"
    assert root["start_ns"] <= generation["start_ns"] < generation["end_ns"] <= root["end_ns"]
    assert abs(as_seconds(root["start_ns"]) - time.time()) < 120


def test_stream_generation_has_completion_start_time_and_the_streamed_usage(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url,
        request_id,
        messages=[{"role": "user", "content": "Écris une courte histoire [[emu:ttft=0.05,gap=0.01]]"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert answer.status == 200
    assert answer.body[-1] == "[DONE]"
    usage = next(e["usage"] for e in answer.body[:-1] if e.get("usage"))
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in answer.body[:-1] if e.get("choices")
    )
    generation = generation_of(spans_of(fake_langfuse, request_id))
    attrs = generation["attributes"]
    assert attrs["langfuse.observation.metadata.stream"] is True
    assert json.loads(attrs["langfuse.observation.usage_details"])["output"] == usage["completion_tokens"]
    assert json.loads(attrs["langfuse.observation.usage_details"])["input"] == usage["prompt_tokens"]
    assert json.loads(attrs["langfuse.observation.cost_details"])["total"] == pytest.approx(
        expected_cost(CHAT_MODEL_ID, usage), rel=1e-6
    )
    assert json.loads(attrs["langfuse.observation.output"])["content"] == text
    first_token = attrs["langfuse.observation.completion_start_time"]
    assert first_token, "time to first token is what a stream's trace is for"
    from datetime import datetime

    first = datetime.fromisoformat(first_token.replace("Z", "+00:00")).timestamp()
    assert as_seconds(generation["start_ns"]) <= first <= as_seconds(generation["end_ns"])


def test_tool_calls_arrive_as_the_generation_output(proxy: Gateway, fake_langfuse: FakeLangfuse) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url,
        request_id,
        messages=[{"role": "user", "content": "Quelle est la météo à Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    assert answer.status == 200
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    output = json.loads(attrs["langfuse.observation.output"])
    assert [c["function"]["name"] for c in output["tool_calls"]] == ["get_weather"]
    assert attrs["langfuse.observation.metadata.finish_reason"] == "tool_calls"
    assert json.loads(attrs["langfuse.observation.model.parameters"])  # tools are recorded as sent


def test_embeddings_are_an_embedding_observation_priced_on_input(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = post(
        f"{proxy.url}/v1/embeddings",
        {"model": EMBED_MODEL, "input": ["Texte à vectoriser", "un autre"], "user": "embedder"},
        request_id=request_id,
    )
    assert answer.status == 200
    usage = answer.body["usage"]
    cost = expected_cost(EMBED_MODEL_ID, usage)
    assert float(answer.headers["x-litellm-response-cost"]) == pytest.approx(cost, rel=1e-6)
    generation = generation_of(spans_of(fake_langfuse, request_id))
    attrs = generation["attributes"]
    assert attrs["langfuse.observation.type"] == "embedding"
    assert attrs["langfuse.observation.model.name"] == EMBED_MODEL_ID
    assert json.loads(attrs["langfuse.observation.usage_details"])["input"] == usage["prompt_tokens"]
    assert json.loads(attrs["langfuse.observation.cost_details"])["total"] == pytest.approx(cost, rel=1e-6)
    assert json.loads(attrs["langfuse.observation.input"]) == ["Texte à vectoriser", "un autre"]
    assert attrs["user.id"] == "embedder"


def test_an_upstream_error_is_an_error_generation_with_the_message_and_the_clients_metadata(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url,
        request_id,
        messages=[{"role": "user", "content": "Bonjour [[emu:fault=validation]]"}],
        metadata={"user_id": "user-err", "session_id": "session-err", "tags": ["failing"]},
    )
    assert answer.status == 400
    assert answer.headers["x-request-id"] == request_id
    assert "x-litellm-response-cost" not in answer.headers
    spans = spans_of(fake_langfuse, request_id)
    generation = generation_of(spans)
    attrs = generation["attributes"]
    assert attrs["langfuse.observation.level"] == "ERROR"
    assert "injected fault" in attrs["langfuse.observation.status_message"]
    assert attrs["langfuse.observation.status_message"] == answer.body["error"]["message"]
    assert attrs["langfuse.observation.metadata.error_type"] == "ValidationException"
    assert attrs["langfuse.observation.metadata.status"] == 400
    assert generation["status_code"] == 2
    assert attrs["user.id"] == "user-err"
    assert attrs["session.id"] == "session-err"
    assert attrs["langfuse.trace.tags"] == ["failing"]
    assert "cost_details" not in json.dumps(attrs) or not attrs.get("langfuse.observation.cost_details")


@pytest.mark.parametrize(
    ("body", "status", "model_group"),
    [
        ({"model": CHAT_MODEL, "temperature": "hot"}, 400, CHAT_MODEL),
        ({"model": "no-such-model"}, 404, "no-such-model"),
    ],
    ids=["invalid-parameter", "unknown-model"],
)
def test_a_request_refused_before_any_bedrock_call_is_still_traced_with_its_metadata(
    proxy: Gateway, fake_langfuse: FakeLangfuse, body: dict, status: int, model_group: str
) -> None:
    request_id = new_id()
    answer = chat(proxy.url, request_id, metadata={"user_id": "user-early", "tags": ["early"]}, **body)
    assert answer.status == status
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    assert attrs["langfuse.observation.level"] == "ERROR"
    assert attrs["langfuse.observation.status_message"] == answer.body["error"]["message"]
    assert attrs["langfuse.observation.metadata.model_group"] == model_group
    assert attrs["user.id"] == "user-early"
    assert attrs["langfuse.trace.tags"] == ["early"]


def test_every_litellm_metadata_key_shapes_the_trace(proxy: Gateway, fake_langfuse: FakeLangfuse) -> None:
    request_id = new_id()
    trace_key = f"my-trace-{request_id}"
    metadata = {
        "trace_id": trace_key,
        "trace_name": "checkout-assistant",
        "trace_user_id": "trace-user",
        "user_id": "seed-user",  # trace_user_id wins
        "session_id": "s-1",
        "environment": "Staging",
        "tags": ["a", "b"],
        "generation_name": "answer-question",
        "mask_input": True,
        "mask_output": True,
        "team": "search",  # any other key: trace metadata
    }
    answer = chat(proxy.url, request_id, metadata=metadata, user="openai-user")
    assert answer.status == 200
    spans = spans_of(fake_langfuse, request_id)
    generation = generation_of(spans)
    [root] = [s for s in spans if s is not generation]
    attrs = generation["attributes"]
    assert generation["trace_id"] == otlp.hex_id(trace_key, 32)
    assert generation["name"] == "answer-question"
    assert root["attributes"]["langfuse.trace.name"] == "checkout-assistant"
    assert attrs["user.id"] == "trace-user"
    assert attrs["session.id"] == "s-1"
    assert attrs["langfuse.environment"] == "staging"
    assert attrs["langfuse.trace.tags"] == ["a", "b"]
    assert attrs["langfuse.trace.metadata.team"] == "search"
    assert attrs["langfuse.observation.input"] == REDACTED
    assert attrs["langfuse.observation.output"] == REDACTED

    # a second request joins that trace as one more generation, without touching the trace itself
    second_id = new_id()
    answer = chat(proxy.url, second_id, metadata={"existing_trace_id": trace_key, "user_id": "ignored"})
    assert answer.status == 200
    joined = spans_of(fake_langfuse, second_id)
    second = next(
        s for s in joined if s["attributes"].get("langfuse.observation.metadata.request_id") == second_id
    )
    assert second["trace_id"] == generation["trace_id"]
    assert "langfuse.trace.name" not in second["attributes"]
    assert "user.id" not in second["attributes"]
    assert not [
        s
        for s in joined
        if s["attributes"].get("langfuse.observation.metadata.request_id") == second_id
        and s["attributes"]["langfuse.observation.type"] == "span"
    ]


@pytest.mark.parametrize(
    ("user", "metadata", "expected"),
    [
        ("openai-user-7", None, "openai-user-7"),
        ("openai-user-7", {"user_id": "seed-user"}, "seed-user"),
        ("openai-user-7", {"user_id": "seed-user", "trace_user_id": "lite-user"}, "lite-user"),
    ],
    ids=["openai-user-is-the-fallback", "seed-user-id-wins", "trace-user-id-wins"],
)
def test_the_trace_user_comes_from_metadata_then_the_openai_user(
    proxy: Gateway, fake_langfuse: FakeLangfuse, user: str, metadata: dict | None, expected: str
) -> None:
    request_id = new_id()
    extra = {"metadata": metadata} if metadata else {}
    assert chat(proxy.url, request_id, user=user, **extra).status == 200
    assert generation_of(spans_of(fake_langfuse, request_id))["attributes"]["user.id"] == expected


def test_turn_off_message_logging_in_metadata_keeps_messages_out_of_langfuse(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url,
        request_id,
        messages=[{"role": "user", "content": "mon secret médical"}],
        metadata={"turn_off_message_logging": True, "session_id": "private"},
    )
    assert answer.status == 200
    spans = spans_of(fake_langfuse, request_id)
    assert "mon secret" not in json.dumps(spans)
    attrs = generation_of(spans)["attributes"]
    assert "langfuse.observation.input" not in attrs and "langfuse.observation.output" not in attrs
    assert attrs["session.id"] == "private"
    assert json.loads(attrs["langfuse.observation.usage_details"])["input"] > 0


def test_n_choices_are_one_generation_with_their_usage_summed(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(proxy.url, request_id, n=2)
    assert answer.status == 200 and len(answer.body["choices"]) == 2
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    usage = json.loads(attrs["langfuse.observation.usage_details"])
    assert usage["input"] == answer.body["usage"]["prompt_tokens"]
    assert usage["output"] == answer.body["usage"]["completion_tokens"]


def test_a_stream_that_breaks_midway_is_an_error_generation_with_its_first_token_time(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = chat(
        proxy.url,
        request_id,
        messages=[{"role": "user", "content": "Raconte [[emu:fault=stream-error,after=3,error=throttling]]"}],
        stream=True,
    )
    assert answer.status == 200
    error_event = next(e for e in answer.body if isinstance(e, dict) and "error" in e)
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    assert attrs["langfuse.observation.level"] == "ERROR"
    assert attrs["langfuse.observation.status_message"] == error_event["error"]["message"]
    assert attrs["langfuse.observation.completion_start_time"]
    assert json.loads(attrs["langfuse.observation.output"])["content"], "the part the client received"


def test_a_client_that_leaves_a_stream_is_recorded_as_499(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    address = urlparse(proxy.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    body = {
        "model": CHAT_MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": "Une longue histoire [[emu:gap=0.2,text=200]]"}],
    }
    connection.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {MASTER_KEY}",
            "x-request-id": request_id,
        },
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.read1(64).startswith(b"data: ")  # the first chunk arrived: the stream started
    connection.sock.close()
    connection.close()
    started = time.monotonic()
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    assert attrs["langfuse.observation.metadata.status"] == 499
    assert attrs["langfuse.observation.level"] == "ERROR"
    assert time.monotonic() - started < 15, "200 words at 0.2 s each would take 20 s: the stream was cut"


def test_a_stream_cut_short_says_its_usage_is_an_estimate(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    cut = new_id()
    drop_a_stream(proxy.url, cut)
    attrs = generation_of(spans_of(fake_langfuse, cut))["attributes"]
    assert attrs["langfuse.observation.metadata.status"] == 499
    assert attrs["langfuse.observation.metadata.usage_estimated"] is True
    usage = json.loads(attrs["langfuse.observation.usage_details"])
    assert usage["input"] > 0 and usage["output"] > 0  # the estimate: the prompt, and what was streamed
    whole = new_id()
    assert chat(proxy.url, whole).status == 200
    attrs = generation_of(spans_of(fake_langfuse, whole))["attributes"]
    assert "langfuse.observation.metadata.usage_estimated" not in attrs  # Bedrock's own count


def test_the_exporter_authenticates_and_speaks_otlp_version_4(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    assert chat(proxy.url, request_id).status == 200
    spans = spans_of(fake_langfuse, request_id)
    assert {s["ingestion_version"] for s in spans} == {"4"}
    assert fake_langfuse.counts["unauthorized"] == 0
    assert LANGFUSE_SECRET not in Path(proxy.log_path).read_text()


LANGFUSE_SECRET = "sk-lf-e2e-secret-9876"


def test_a_responses_api_call_is_a_generation_naming_its_client_api(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    request_id = new_id()
    answer = post(
        f"{proxy.url}/v1/responses",
        {"model": CHAT_MODEL, "input": "Bonjour", "metadata": {"session_id": "codex-1"}},
        request_id=request_id,
    )
    assert answer.status == 200 and answer.body["object"] == "response"
    attrs = generation_of(spans_of(fake_langfuse, request_id))["attributes"]
    assert attrs["langfuse.observation.metadata.client_api"] == "openai.responses"
    assert attrs["session.id"] == "codex-1"
    assert json.loads(attrs["langfuse.observation.input"]) == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Bonjour"}]}
    ]
    output = json.loads(attrs["langfuse.observation.output"])
    assert output["content"] == answer.body["output"][0]["content"][0]["text"]
    usage = answer.body["usage"]
    assert json.loads(attrs["langfuse.observation.usage_details"]) == {
        "input": usage["input_tokens"],
        "output": usage["output_tokens"],
        "total": usage["total_tokens"],
    }


def test_a_prompt_cache_read_reaches_langfuse_with_its_count_and_its_discounted_cost(
    proxy: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    system = {
        "role": "system",
        "content": [
            {
                "type": "text",
                "text": f"[{uuid.uuid4().hex}] Answer as a patient tutor, one step at a time. " * 250,
                "cache_control": {"type": "ephemeral"},
            }
        ],
    }
    messages = [system, {"role": "user", "content": "What is a derivative?"}]
    first = chat(proxy.url, messages=messages, max_tokens=30)
    second_id = new_id()
    second = chat(proxy.url, second_id, messages=messages, max_tokens=30)
    assert (first.status, second.status) == (200, 200)
    cached = second.body["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached > 1000 and cached == first.body["usage"]["cache_creation_input_tokens"]
    attrs = generation_of(spans_of(fake_langfuse, second_id))["attributes"]
    usage = json.loads(attrs["langfuse.observation.usage_details"])
    assert usage["input_cache_read"] == cached and "input_cache_creation" not in usage
    total = json.loads(attrs["langfuse.observation.cost_details"])["total"]
    assert total == pytest.approx(float(second.headers["x-litellm-response-cost"]), rel=1e-6)
    assert total < float(first.headers["x-litellm-response-cost"]) / 3  # reads at a tenth of the input price
