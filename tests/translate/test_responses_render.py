"""The Responses API's answers rendered from the gateway's ChatAnswer and from ConverseStream events: each
checked by the openai SDK's own pydantic types (strict validation: a missing or mistyped field fails)."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai.responses import (
    ResponseStreamRenderer,
    answer_from_response,
    encode_events,
    input_items,
    item_list,
    replay,
    response_from_answer,
    usage_to_responses,
)
from bedrock_proxy.openai.responses_request import parse_responses_request

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
ECHO = parse_responses_request({"model": "claude", "input": "Hi", "instructions": "Be brief"}).echo
USAGE = Usage(prompt_tokens=10, completion_tokens=4, cache_read_tokens=3)


def test_usage_in_responses_terms() -> None:
    assert usage_to_responses(USAGE) == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 14,
    }


ANSWERS = [
    ("text", ChatAnswer("Hello", finish_reason="stop", usage=USAGE), "completed", ["message"], None),
    (
        "reasoning then text",
        ChatAnswer("Hello", reasoning="Think", finish_reason="stop", usage=USAGE),
        "completed",
        ["reasoning", "message"],
        None,
    ),
    (
        "two function calls, no text",
        ChatAnswer(
            None,
            [AnswerToolCall("c1", "a", '{"x":1}'), AnswerToolCall("c2", "b", "")],
            finish_reason="tool_calls",
            usage=USAGE,
        ),
        "completed",
        ["function_call", "function_call"],
        None,
    ),
    (
        "cut by max_output_tokens",
        ChatAnswer("Hel", finish_reason="length", usage=USAGE),
        "incomplete",
        ["message"],
        {"reason": "max_output_tokens"},
    ),
    (
        "filtered",
        ChatAnswer("", finish_reason="content_filter", usage=USAGE),
        "incomplete",
        ["message"],
        {"reason": "content_filter"},
    ),
]


@pytest.mark.parametrize(
    ("case", "answer", "status", "types", "incomplete"), ANSWERS, ids=[a[0] for a in ANSWERS]
)
def test_a_whole_answer_is_a_response_object(
    case: str, answer: ChatAnswer, status: str, types: list[str], incomplete: dict[str, str] | None
) -> None:
    response = response_from_answer("resp_abc", 1700000000, ECHO, answer)
    parsed = Response.model_validate(response, strict=True)
    assert parsed.status == status and parsed.object == "response" and parsed.id == "resp_abc"
    assert [item.type for item in parsed.output] == types
    assert response["incomplete_details"] == incomplete
    assert len({item.id for item in parsed.output}) == len(types)  # item ids are distinct
    assert parsed.instructions == "Be brief" and parsed.usage is not None and parsed.usage.total_tokens == 14
    if answer.content:
        assert parsed.output_text == answer.content
    calls = [item for item in parsed.output if item.type == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in calls] == [
        (call.id, call.name, call.arguments or "{}") for call in answer.tool_calls
    ]


def converse(*events: tuple[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [("messageStart", {"role": "assistant"}), *events]


def text(index: int, value: str) -> tuple[str, dict[str, Any]]:
    return ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": value}})


def stop(reason: str) -> list[tuple[str, dict[str, Any]]]:
    usage = {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14}
    return [("messageStop", {"stopReason": reason}), ("metadata", {"usage": usage})]


def tool(index: int, call_id: str, name: str, args: str) -> list[tuple[str, dict[str, Any]]]:
    start = {"toolUse": {"toolUseId": call_id, "name": name}}
    return [
        ("contentBlockStart", {"contentBlockIndex": index, "start": start}),
        ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": args}}}),
        ("contentBlockStop", {"contentBlockIndex": index}),
    ]


def stream(
    events: list[tuple[str, dict[str, Any]]], fail: GatewayError | None = None
) -> list[dict[str, Any]]:
    renderer = ResponseStreamRenderer("resp_abc", ECHO, created_at=1700000000)
    translator = StreamTranslator(renderer, None)
    out: list[dict[str, Any]] = []
    for event_type, payload in events:
        for batch in translator.feed(event_type, payload):
            out.extend(batch or [])
    out.extend(renderer.failed(fail) if fail else renderer.end())
    for event in out:
        EVENTS.validate_python(event, strict=True)
    assert [event["sequence_number"] for event in out] == list(range(len(out)))
    return out


def test_a_text_stream() -> None:
    events = stream(converse(text(0, "Hel"), text(0, "lo"), *stop("end_turn")))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[6]["text"] == "Hello"
    final = Response.model_validate(events[-1]["response"], strict=True)
    assert final.output_text == "Hello" and final.status == "completed"
    assert final.usage is not None and final.usage.input_tokens == 10
    assert events[0]["response"]["output"] == [] and events[0]["response"]["status"] == "in_progress"


def test_reasoning_then_text_are_two_items() -> None:
    reasoning = (
        "contentBlockDelta",
        {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm"}}},
    )
    events = stream(converse(reasoning, text(1, "Yes"), *stop("end_turn")))
    types = [e["type"] for e in events]
    assert types[2:7] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
    ]
    final = Response.model_validate(events[-1]["response"], strict=True)
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "reasoning_text", "text": "Hmm"}]
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [0, 1]


def test_parallel_function_calls_stream_their_arguments() -> None:
    events = stream(converse(*tool(0, "c1", "a", '{"x":1}'), *tool(1, "c2", "b", ""), *stop("tool_use")))
    done = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(e["output_index"], e["arguments"]) for e in done] == [(0, '{"x":1}'), (1, "{}")]
    final = Response.model_validate(events[-1]["response"], strict=True)
    calls = [(item.call_id, item.name, item.arguments, item.status) for item in final.output]  # type: ignore[union-attr]
    assert calls == [("c1", "a", '{"x":1}', "completed"), ("c2", "b", "{}", "completed")]


def test_a_stream_cut_by_max_tokens_ends_incomplete() -> None:
    events = stream(converse(text(0, "Hel"), *stop("max_tokens")))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-1]["response"]["output"][0]["status"] == "incomplete"


def test_a_failure_after_the_start_is_an_error_event_then_response_failed() -> None:
    failure = GatewayError(503, "Bedrock is unavailable.", type="api_error")
    events = stream(converse(text(0, "Hel")), fail=failure)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-2]["message"] == "Bedrock is unavailable." and events[-2]["code"] == "server_error"
    assert events[-1]["response"]["error"] == {"code": "server_error", "message": "Bedrock is unavailable."}
    assert events[-1]["response"]["status"] == "failed"


def test_a_failure_before_any_event_still_starts_the_response() -> None:
    failure = GatewayError(429, "Slow down.", type="rate_limit_error")
    events = stream([], fail=failure)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert events[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_events_are_framed_with_their_type() -> None:
    framed = encode_events([{"type": "response.created", "sequence_number": 0}])
    assert framed == b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n'


@pytest.mark.parametrize(
    ("case", "answer", "status", "types", "incomplete"), ANSWERS, ids=[a[0] for a in ANSWERS]
)
def test_a_rendered_response_gives_back_its_answer_and_replays_as_a_stream(
    case: str, answer: ChatAnswer, status: str, types: list[str], incomplete: dict[str, str] | None
) -> None:
    response = response_from_answer("resp_abc", 1700000000, ECHO, answer)
    again = answer_from_response(response)
    expected_calls = [AnswerToolCall(c.id, c.name, c.arguments or "{}") for c in answer.tool_calls]
    assert again == ChatAnswer(
        answer.content if answer.content or not answer.tool_calls else None,
        expected_calls,
        answer.reasoning,
        answer.finish_reason,
        answer.usage,
    )
    renderer = ResponseStreamRenderer("resp_new", ECHO, created_at=1700000001)
    events = replay(renderer, again)
    for event in events:
        EVENTS.validate_python(event, strict=True)
    final = events[-1]["response"]
    assert final["status"] == status and [item["type"] for item in final["output"]] == types
    assert final["usage"] == response["usage"]


def test_input_items_get_ids_and_item_shapes_and_pages_follow_order_limit_after() -> None:
    response = {"id": "resp_x", "output": [{"id": "msg_out", "type": "message"}]}
    conversation = [
        {"role": "user", "content": "Hi"},
        {"type": "message", "role": "assistant", "content": "Hello", "id": "msg_1"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
        {"id": "msg_out", "type": "message"},
    ]
    items = input_items(response, conversation)
    assert items == [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi"}], "type": "message",
         "status": "completed", "id": "item_x000"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}],
         "id": "msg_1", "status": "completed"},
        {"type": "function_call_output", "call_id": "c", "output": "ok", "id": "item_x002"},
    ]  # fmt: skip
    newest = item_list(items, order="desc", limit=2, after=None)
    assert [i["id"] for i in newest["data"]] == ["item_x002", "msg_1"] and newest["has_more"] is True
    rest = item_list(items, order="desc", limit=2, after="msg_1")
    assert [i["id"] for i in rest["data"]] == ["item_x000"] and rest["has_more"] is False
    assert rest["first_id"] == rest["last_id"] == "item_x000"
    assert item_list(items, order="asc", limit=5, after="unknown")["data"] == []
