"""What a Langfuse user sees for one request: trace and generation attributes from the request metadata."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from bedrock_proxy.observability.langfuse import (
    REDACTED_CONTENT,
    LangfuseOptions,
    legacy_events,
    otlp_spans,
)
from bedrock_proxy.observability.otlp import hex_id
from bedrock_proxy.observability.record import Usage
from tests.observability.records import T0, attempt, record


def _decode(span: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for attr in span["attributes"]:
        value = attr["value"]
        if "arrayValue" in value:
            out[attr["key"]] = [v["stringValue"] for v in value["arrayValue"]["values"]]
        else:
            out[attr["key"]] = next(iter(value.values()))
    return out


def _by_type(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        _decode(s)["langfuse.observation.type"] + ("" if s.get("parentSpanId") else ":root"): s for s in spans
    }


def generation(rec, options: LangfuseOptions | None = None) -> dict[str, Any]:
    spans = otlp_spans(rec, options or LangfuseOptions())
    gen = [s for s in spans if _decode(s)["langfuse.observation.type"] in ("generation", "embedding")]
    assert len(gen) == 1
    return _decode(gen[0])


@pytest.mark.parametrize(
    ("metadata", "user", "key", "expected"),
    [
        ({"user_id": "user-123"}, None, "user.id", "user-123"),  # the seed's key
        ({"trace_user_id": "u-lite", "user_id": "u-seed"}, None, "user.id", "u-lite"),  # LiteLLM's key wins
        ({}, "openai-user", "user.id", "openai-user"),  # the OpenAI `user` field as fallback
        ({"session_id": "session-456"}, None, "session.id", "session-456"),
        ({"environment": "production"}, None, "langfuse.environment", "production"),
        ({"environment": "Prod Europe"}, None, "langfuse.environment", "prod-europe"),
        ({"tags": ["a", "b"]}, None, "langfuse.trace.tags", ["a", "b"]),
        ({"tags": "solo"}, None, "langfuse.trace.tags", ["solo"]),
        ({"trace_name": "support-bot"}, None, "langfuse.trace.name", "support-bot"),
        ({"trace_release": "1.2.3"}, None, "langfuse.release", "1.2.3"),
        ({"trace_version": "v7"}, None, "langfuse.version", "v7"),
        ({"team": "search"}, None, "langfuse.trace.metadata.team", "search"),
        ({"trace_metadata": {"ticket": 42}}, None, "langfuse.trace.metadata.ticket", "42"),
    ],
)
def test_request_metadata_lands_on_the_trace(metadata, user, key, expected) -> None:
    assert generation(record(metadata=metadata, user=user))[key] == expected


def test_generation_carries_model_parameters_usage_cost_and_time_to_first_token() -> None:
    rec = record(
        stream=True,
        first_token_time=T0 + 0.2,
        usage=Usage(prompt_tokens=12, completion_tokens=9, cache_read_tokens=4),
    )
    attrs = generation(rec)
    assert attrs["langfuse.observation.type"] == "generation"
    assert attrs["langfuse.observation.model.name"] == "eu.anthropic.claude-3-5-sonnet-20241022-v2:0"
    assert orjson.loads(attrs["langfuse.observation.model.parameters"]) == {
        "temperature": 0.7,
        "max_tokens": 1024,
    }
    assert orjson.loads(attrs["langfuse.observation.usage_details"]) == {
        "input": 12,
        "output": 9,
        "total": 21,
        "input_cache_read": 4,
    }
    assert orjson.loads(attrs["langfuse.observation.cost_details"]) == {
        "input": 0.000036,
        "output": 0.000135,
        "total": 0.000171,
    }
    assert attrs["langfuse.observation.completion_start_time"] == "2025-10-09T08:53:20.200000Z"
    assert attrs["langfuse.observation.metadata.deployment_id"] == "claude-eu-1"
    assert attrs["langfuse.observation.metadata.region"] == "eu-west-1"
    assert orjson.loads(attrs["langfuse.observation.input"]) == [{"role": "user", "content": "Bonjour"}]
    assert orjson.loads(attrs["langfuse.observation.output"]) == {"role": "assistant", "content": "Salut"}


def test_the_generation_names_the_client_api() -> None:
    assert generation(record())["langfuse.observation.metadata.client_api"] == "openai.chat"
    responses = generation(record(client_api="openai.responses"))
    assert responses["langfuse.observation.metadata.client_api"] == "openai.responses"


def test_embeddings_are_embedding_observations() -> None:
    attrs = generation(record(kind="embedding", model_group="titan-embed-text-v2", output=None))
    assert attrs["langfuse.observation.type"] == "embedding"


def test_failure_is_level_error_with_the_message() -> None:
    rec = record(status=429, error_type="ThrottlingException", error_message="Too many requests", output=None)
    spans = otlp_spans(rec, LangfuseOptions())
    for span in spans:
        attrs = _decode(span)
        assert attrs["langfuse.observation.level"] == "ERROR"
        assert attrs["langfuse.observation.status_message"] == "Too many requests"
        assert span["status"] == {"code": 2, "message": "Too many requests"}


def test_one_trace_with_a_root_span_and_a_generation_for_a_plain_call() -> None:
    spans = otlp_spans(record(), LangfuseOptions())
    assert len(spans) == 2
    root, gen = spans
    assert root["traceId"] == gen["traceId"]
    assert gen["parentSpanId"] == root["spanId"]
    assert "parentSpanId" not in root


def test_each_retry_and_fallback_attempt_is_a_child_span_of_the_generation() -> None:
    attempts = (
        attempt(status=429, error_type="ThrottlingException", error_message="slow down", end_time=T0 + 0.1),
        attempt(start_time=T0 + 0.1, end_time=T0 + 0.2, status=503, error_type="ServiceUnavailableException"),
        attempt(
            deployment_id="haiku-eu-1", model_group="claude-3-haiku", is_fallback=True, start_time=T0 + 0.2
        ),
    )
    spans = otlp_spans(record(attempts=attempts, fallback_used=True), LangfuseOptions())
    gen = next(s for s in spans if _decode(s)["langfuse.observation.type"] == "generation")
    children = [s for s in spans if s.get("parentSpanId") == gen["spanId"]]
    assert [s["name"] for s in children] == [
        "attempt 1 (first try): claude-eu-1",
        "attempt 2 (retry): claude-eu-1",
        "attempt 3 (fallback): haiku-eu-1",
    ]
    levels = [_decode(s)["langfuse.observation.level"] for s in children]
    assert levels == ["WARNING", "WARNING", "DEFAULT"]
    assert _decode(children[0])["langfuse.observation.status_message"] == "slow down"
    assert len({s["spanId"] for s in spans}) == len(spans)


@pytest.mark.parametrize(
    ("trace_id", "expected"),
    [
        ("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdef"),
        ("123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000"),
        ("my-conversation-7", hashlib.sha256(b"my-conversation-7").hexdigest()[:32]),
        ("0" * 32, hashlib.sha256(b"0" * 32).hexdigest()[:32]),  # all-zero ids are invalid in OTLP
    ],
)
def test_client_trace_ids_become_valid_otlp_ids_deterministically(trace_id: str, expected: str) -> None:
    spans = otlp_spans(record(metadata={"trace_id": trace_id}), LangfuseOptions())
    assert {s["traceId"] for s in spans} == {expected}


def test_generation_name_and_id_come_from_metadata() -> None:
    spans = otlp_spans(
        record(metadata={"generation_name": "answer", "generation_id": "gen-1"}), LangfuseOptions()
    )
    gen = spans[1]
    assert gen["name"] == "answer"
    assert gen["spanId"] == hex_id("gen-1", 16)


def test_existing_trace_id_appends_a_generation_without_touching_the_trace() -> None:
    rec = record(
        metadata={
            "existing_trace_id": "trace-from-my-app",
            "parent_observation_id": "step-3",
            "trace_name": "ignored",
            "session_id": "ignored",
        }
    )
    spans = otlp_spans(rec, LangfuseOptions())
    assert len(spans) == 1
    gen = spans[0]
    assert gen["traceId"] == hex_id("trace-from-my-app", 32)
    assert gen["parentSpanId"] == hex_id("step-3", 16)
    attrs = _decode(gen)
    assert "langfuse.trace.name" not in attrs
    assert "session.id" not in attrs


@pytest.mark.parametrize(
    ("metadata", "options", "input_", "output"),
    [
        (
            {"mask_input": True},
            LangfuseOptions(),
            REDACTED_CONTENT,
            {"role": "assistant", "content": "Salut"},
        ),
        (
            {"mask_output": True},
            LangfuseOptions(),
            [{"role": "user", "content": "Bonjour"}],
            REDACTED_CONTENT,
        ),
        ({}, LangfuseOptions(turn_off_message_logging=True), None, None),
        ({"turn_off_message_logging": True}, LangfuseOptions(), None, None),
    ],
)
def test_masking_and_turn_off_message_logging_keep_messages_out(metadata, options, input_, output) -> None:
    def content(value: str | None) -> Any:
        return value if value in (None, REDACTED_CONTENT) else orjson.loads(value)

    spans = otlp_spans(record(metadata=metadata), options)
    for span in spans:  # the root span (trace input/output) and the generation
        attrs = _decode(span)
        assert content(attrs.get("langfuse.observation.input")) == input_
        assert content(attrs.get("langfuse.observation.output")) == output
    if input_ is None:
        assert "Bonjour" not in orjson.dumps(spans).decode()


def test_default_environment_comes_from_the_options_when_the_request_names_none() -> None:
    assert generation(record(), LangfuseOptions(environment="staging"))["langfuse.environment"] == "staging"


def test_legacy_events_carry_the_same_fields_with_stable_event_ids() -> None:
    rec = record(metadata={"trace_id": "conv-1", "session_id": "s-1", "tags": ["t"]}, user="u-9")
    events = legacy_events(rec, LangfuseOptions())
    assert [e["type"] for e in events] == ["trace-create", "generation-create"]
    trace, gen = events[0]["body"], events[1]["body"]
    assert trace["id"] == "conv-1"
    assert trace["userId"] == "u-9"
    assert trace["sessionId"] == "s-1"
    assert trace["tags"] == ["t"]
    assert gen["traceId"] == "conv-1"
    assert gen["usageDetails"] == {"input": 12, "output": 9, "total": 21}
    assert gen["costDetails"]["total"] == 0.000171
    assert gen["model"] == "eu.anthropic.claude-3-5-sonnet-20241022-v2:0"
    assert [e["id"] for e in legacy_events(rec, LangfuseOptions())] == [e["id"] for e in events]


def test_legacy_failure_and_attempts() -> None:
    attempts = (attempt(status=500, error_type="InternalServerException"), attempt(is_fallback=True))
    rec = record(status=500, error_type="InternalServerException", error_message="boom", attempts=attempts)
    events = legacy_events(rec, LangfuseOptions())
    assert [e["type"] for e in events] == ["trace-create", "generation-create", "span-create", "span-create"]
    assert events[1]["body"]["level"] == "ERROR"
    assert events[1]["body"]["statusMessage"] == "boom"


def test_the_client_api_is_named_on_the_generation() -> None:
    attributes = generation(record(client_api="anthropic.messages", user='{"session_id":"s1"}'))
    assert attributes["langfuse.observation.metadata.client_api"] == "anthropic.messages"
    assert attributes["user.id"] == '{"session_id":"s1"}'  # Anthropic's metadata.user_id, as the trace user
