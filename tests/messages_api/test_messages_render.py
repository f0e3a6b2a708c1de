"""Anthropic's message, stream events and errors rendered from the gateway's answers (tables, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedrock_proxy.anthropic.errors import error_body, error_status
from bedrock_proxy.anthropic.messages import (
    MessageStreamRenderer,
    finish_reason_of,
    message_from_answer,
    stop_reason,
    usage_to_anthropic,
)
from bedrock_proxy.anthropic.sse import encode_error
from bedrock_proxy.bedrock.streaming import StreamTranslator, converse_events
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.errors import ErrorCode, GatewayError, from_bedrock

USAGE = {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20}
ANSWER = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Let me think.", "signature": "sig-A"}}},
                {"reasoningContent": {"redactedContent": "b3BhcXVl"}},
                {"text": "I will read it."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "Read", "input": {"file_path": "/a"}}},
            ],
        }
    },
    "stopReason": "tool_use",
    "usage": USAGE,
}


def test_a_message_has_reasoning_then_text_then_tool_use_and_anthropic_usage() -> None:
    message = message_from_answer(from_converse(ANSWER, json_tool=None), "msg_1", "claude-opus-4-8")
    assert message == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-8",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig-A"},
            {"type": "redacted_thinking", "data": "b3BhcXVl"},
            {"type": "text", "text": "I will read it."},
            {"type": "tool_use", "id": "tooluse_1", "name": "Read", "input": {"file_path": "/a"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        # input_tokens leaves out what was read from or written to the prompt cache
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 100,
        },
    }


@pytest.mark.parametrize(
    ("stop_reason", "extra", "expected"),
    [
        ("end_turn", {}, ("end_turn", None)),
        ("max_tokens", {}, ("max_tokens", None)),
        (
            "stop_sequence",
            {"additionalModelResponseFields": {"stop_sequence": "END"}},
            ("stop_sequence", "END"),
        ),
        ("tool_use", {}, ("end_turn", None)),  # no tool call left to run
        ("guardrail_intervened", {}, ("refusal", None)),
        ("content_filtered", {}, ("refusal", None)),
    ],
)
def test_stop_reasons(stop_reason: str, extra: dict[str, Any], expected: tuple[str, str | None]) -> None:
    response = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": stop_reason, **extra}
    message = message_from_answer(from_converse(response, json_tool=None), "msg_1", "m")
    assert (message["stop_reason"], message["stop_sequence"]) == expected


def events_of(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, payload) of every SSE event; each event's name is its payload's type."""
    events = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        name_line, data_line = block.split("\n")
        name, payload = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert payload["type"] == name
        events.append((name, payload))
    return events


def stream(response: dict[str, Any], renderer: MessageStreamRenderer) -> list[tuple[str, dict[str, Any]]]:
    translator = StreamTranslator(renderer, None)
    data = b"".join(piece for event in converse_events(response) for piece in translator.feed(*event))
    return events_of(data + renderer.end())


def test_a_stream_opens_and_closes_each_block_with_consecutive_indexes() -> None:
    events = stream(ANSWER, MessageStreamRenderer("msg_1", "claude-opus-4-8", 42))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        *(
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
        ),  # thinking
        *("content_block_start", "content_block_stop"),  # redacted thinking
        *("content_block_start", "content_block_delta", "content_block_stop"),  # text
        *("content_block_start", "content_block_delta", "content_block_stop"),  # tool use
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["id"] == "msg_1" and start["content"] == [] and start["usage"]["input_tokens"] == 42
    starts = [p for n, p in events if n == "content_block_start"]
    assert [(p["index"], p["content_block"]["type"]) for p in starts] == [
        (0, "thinking"),
        (1, "redacted_thinking"),
        (2, "text"),
        (3, "tool_use"),
    ]
    assert starts[1]["content_block"]["data"] == "b3BhcXVl"
    assert starts[3]["content_block"] == {"type": "tool_use", "id": "tooluse_1", "name": "Read", "input": {}}
    deltas = [(p["index"], p["delta"]) for n, p in events if n == "content_block_delta"]
    assert deltas == [
        (0, {"type": "thinking_delta", "thinking": "Let me think."}),
        (0, {"type": "signature_delta", "signature": "sig-A"}),
        (2, {"type": "text_delta", "text": "I will read it."}),
        (3, {"type": "input_json_delta", "partial_json": '{"file_path":"/a"}'}),
    ]
    stops = [p["index"] for n, p in events if n == "content_block_stop"]
    assert stops == [0, 1, 2, 3]
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 100,
        },
    }


def test_a_stream_cut_by_a_stop_sequence_says_which() -> None:
    response = {
        "output": {"message": {"content": [{"text": "one two"}]}},
        "stopReason": "stop_sequence",
        "additionalModelResponseFields": {"stop_sequence": "three"},
        "usage": USAGE,
    }
    events = stream(response, MessageStreamRenderer("msg_1", "m"))
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "three"}


def test_a_stream_without_usage_still_ends_with_message_delta_and_message_stop() -> None:
    renderer = MessageStreamRenderer("msg_1", "m", 7)
    translator = StreamTranslator(renderer, None)
    data = b"".join(
        piece
        for event in [
            ("messageStart", {}),
            ("contentBlockDelta", {"delta": {"text": "hi"}}),
            ("messageStop", {"stopReason": "max_tokens"}),
        ]
        for piece in translator.feed(*event)
    )
    events = events_of(data + renderer.end())
    assert [n for n, _ in events][-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert (
        events[-2][1]["delta"]["stop_reason"] == "max_tokens" and events[-2][1]["usage"]["input_tokens"] == 7
    )
    assert renderer.end() == b""  # said once


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (GatewayError(400, "bad", code=ErrorCode.INVALID_JSON), 400, "invalid_request_error"),
        (
            GatewayError(401, "who", type="authentication_error", code=ErrorCode.INVALID_API_KEY),
            401,
            "authentication_error",
        ),
        (
            GatewayError(403, "no", type="permission_error", code=ErrorCode.MODEL_NOT_ALLOWED),
            403,
            "permission_error",
        ),
        (GatewayError(404, "no model", code=ErrorCode.MODEL_NOT_FOUND), 404, "not_found_error"),
        (GatewayError(413, "big", code=ErrorCode.REQUEST_TOO_LARGE), 413, "request_too_large"),
        (GatewayError(429, "slow down", code=ErrorCode.KEY_RPM_LIMIT_EXCEEDED), 429, "rate_limit_error"),
        (from_bedrock("ThrottlingException", "Too many requests", 429), 429, "rate_limit_error"),
        (from_bedrock("ServiceUnavailableException", "down", 503), 503, "overloaded_error"),
        (from_bedrock("ModelErrorException", "oops", 424), 424, "api_error"),
        (GatewayError(500, "bug", code=ErrorCode.INTERNAL_ERROR), 500, "api_error"),
    ],
)
def test_errors_in_anthropics_shape(error: GatewayError, status: int, kind: str) -> None:
    assert error.status == status
    assert error_body(error) == {"type": "error", "error": {"type": kind, "message": error.message}}


@pytest.mark.parametrize(
    ("error", "answered"),
    [
        (from_bedrock("ServiceUnavailableException", "down", 503), 529),
        (GatewayError(503, "cooling", code=ErrorCode.DEPLOYMENTS_COOLING_DOWN), 529),
        (GatewayError(502, "no route", code=ErrorCode.BEDROCK_CONNECTION_ERROR), 529),
        (GatewayError(503, "draining"), 503),
        (from_bedrock("ThrottlingException", "Too many requests", 429), 429),
        (GatewayError(400, "bad", code=ErrorCode.INVALID_JSON), 400),
        (GatewayError(404, "no model", code=ErrorCode.MODEL_NOT_FOUND), 404),
        (from_bedrock("ModelErrorException", "oops", 424), 424),
        (GatewayError(500, "bug", code=ErrorCode.INTERNAL_ERROR), 500),
    ],
)
def test_overloaded_is_answered_with_anthropics_529_other_statuses_kept(
    error: GatewayError, answered: int
) -> None:
    assert error_status(error) == answered


def test_an_error_after_the_start_is_an_error_event() -> None:
    ((name, payload),) = events_of(
        encode_error(GatewayError(503, "gone", code=ErrorCode.BEDROCK_UNAVAILABLE))
    )
    assert name == "error" and payload["error"] == {"type": "overloaded_error", "message": "gone"}


@pytest.mark.parametrize("finish", ["stop", "length", "tool_calls", "content_filter"])
def test_a_stored_messages_stop_reason_reads_back_as_the_finish_reason(finish: str) -> None:
    assert finish_reason_of(stop_reason(finish)) == finish
    assert finish_reason_of(stop_reason("stop", "END")) == "stop"  # stop_sequence


@pytest.mark.parametrize(
    ("tier", "expected"), [("default", "standard"), ("priority", "priority"), ("flex", None), (None, None)]
)
def test_the_service_tier_bedrock_reports_is_usage_service_tier_where_anthropic_has_a_name(
    tier: str | None, expected: str | None
) -> None:
    usage = usage_to_anthropic(Usage(prompt_tokens=10, completion_tokens=2), tier)
    assert usage.get("service_tier") == expected
