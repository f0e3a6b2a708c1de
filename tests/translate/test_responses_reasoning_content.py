"""Reasoning items' encrypted_content in the Responses API (tables, no I/O): Claude's signed and redacted
thinking blocks rendered into it (whole answers, streams, cached replays) and read back from input items into
the assistant turn they began; content that is not the gateway's is left out, not refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from openai.types.responses import Response

from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.request import ReasoningPart, TextPart
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai.reasoning_content import decode_reasoning, encode_reasoning
from bedrock_proxy.openai.responses import (
    ResponseStreamRenderer,
    answer_from_response,
    replay,
    response_from_answer,
)
from bedrock_proxy.openai.responses_request import parse_responses_request

ECHO = parse_responses_request({"model": "claude", "input": "Hi"}).echo
SIGNED = ReasoningPart("Think about Paris", signature="sig-1")
REDACTED = ReasoningPart("", redacted="b3BhcXVl")


@pytest.mark.parametrize(
    ("parts", "kept"),
    [
        ([SIGNED], [SIGNED]),
        ([SIGNED, REDACTED], [SIGNED, REDACTED]),
        ([ReasoningPart("unsigned"), SIGNED], [SIGNED]),
        ([ReasoningPart("unsigned")], None),
        ([], None),
    ],
)
def test_signed_and_redacted_blocks_go_round_unchanged(
    parts: list[ReasoningPart], kept: list[ReasoningPart] | None
) -> None:
    content = encode_reasoning(parts)
    assert (content is None) == (kept is None)
    if content is not None:
        assert decode_reasoning(content, "input[0].encrypted_content") == kept


def _b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    "content",
    ["gAAAAABoOpenAIsOwn", "", None, 42, "not base64 at all!", _b64({"blocks": []}), _b64([1, 2])],
)
def test_content_that_is_not_the_gateways_is_left_out(content: object) -> None:
    assert decode_reasoning(content, "input[0].encrypted_content") is None


def test_content_of_ours_with_a_bad_block_is_a_400_naming_it() -> None:
    content = _b64({"bedrock_proxy": 1, "blocks": [{"type": "thinking", "thinking": "x", "signature": 7}]})
    with pytest.raises(GatewayError) as bad:
        decode_reasoning(content, "input[1].encrypted_content")
    assert bad.value.status == 400 and bad.value.param == "input[1].encrypted_content.blocks[0].signature"


def _reasoning_of(response: dict[str, Any]) -> dict[str, Any]:
    Response.model_validate(response)  # the openai SDK's own type takes it
    items: list[dict[str, Any]] = [item for item in response["output"] if item["type"] == "reasoning"]
    [item] = items
    return item


ANSWER = ChatAnswer(
    None,
    [AnswerToolCall("call_1", "get_weather", '{"city": "Paris"}')],
    "Think about Paris",
    "tool_calls",
    reasoning_parts=[SIGNED, REDACTED],
)


def test_a_whole_answer_carries_its_blocks_and_a_cached_replay_keeps_them() -> None:
    response = response_from_answer("resp_1", 1, ECHO, ANSWER)
    item = _reasoning_of(response)
    assert item["content"] == [{"type": "reasoning_text", "text": "Think about Paris"}]
    assert decode_reasoning(item["encrypted_content"], "x") == [SIGNED, REDACTED]

    again = answer_from_response(response)
    assert again.reasoning_parts == [SIGNED, REDACTED]
    renderer = ResponseStreamRenderer("resp_2", ECHO)
    replay(renderer, again)
    replayed = _reasoning_of(renderer.final_response())
    assert replayed["encrypted_content"] == item["encrypted_content"]
    assert replayed["content"] == item["content"]


def test_a_stream_cuts_its_text_into_blocks_at_each_signature() -> None:
    renderer = ResponseStreamRenderer("resp_1", ECHO)
    renderer.start()
    for piece in ("Think ", "first"):
        renderer.reasoning(piece)
    renderer.reasoning_signature("sig-a")
    renderer.reasoning("then second")
    renderer.reasoning_signature("sig-b")
    renderer.reasoning("unsigned tail")
    renderer.tool_start(0, "call_1", "get_weather")
    events = renderer.finish("tool_calls") + renderer.end()
    item = _reasoning_of(renderer.final_response())
    assert decode_reasoning(item["encrypted_content"], "x") == [
        ReasoningPart("Think first", signature="sig-a"),
        ReasoningPart("then second", signature="sig-b"),
    ]
    assert item["content"][0]["text"] == "Think firstthen secondunsigned tail"
    assert events[-1]["type"] == "response.completed"


def test_a_redacted_block_alone_opens_a_reasoning_item() -> None:
    renderer = ResponseStreamRenderer("resp_1", ECHO)
    renderer.start()
    events = renderer.redacted_reasoning("b3BhcXVl")
    assert [e["type"] for e in events] == ["response.output_item.added", "response.content_part.added"]
    renderer.text("Hello")
    renderer.finish("stop")
    renderer.end()
    item = _reasoning_of(renderer.final_response())
    assert item["content"] == [] and decode_reasoning(item["encrypted_content"], "x") == [REDACTED]


def test_a_reasoning_item_of_ours_begins_the_assistant_turn_before_its_call() -> None:
    content = encode_reasoning([SIGNED])
    request = parse_responses_request(
        {
            "model": "claude",
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": content},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
            ],
        }
    )
    user, assistant, tool = request.chat.parsed_messages
    assert user.parts == [TextPart("Weather in Paris?")]
    assert assistant.role == "assistant" and assistant.parts == [SIGNED]
    assert [call.id for call in assistant.tool_calls] == ["call_1"]
    assert tool.role == "tool" and request.dropped == []


def test_a_reasoning_item_of_openais_is_dropped_and_noted() -> None:
    request = parse_responses_request(
        {
            "model": "claude",
            "input": [
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
                {"role": "user", "content": "Hi"},
            ],
        }
    )
    assert [m.role for m in request.chat.parsed_messages] == ["user"]
    assert request.dropped == ["input[0] (reasoning)"]
