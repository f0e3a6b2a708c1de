"""StreamTranslator: ConverseStream events become OpenAI chat.completion.chunk dicts, one event at a time."""

from __future__ import annotations

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from bedrock_proxy.bedrock.streaming import StreamTranslator, chunks_from_converse, converse_events
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.openai.completions import ChunkRenderer, answer_message, completion_from_answers
from bedrock_proxy.openai.usage import usage_to_openai

PAD = {"p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}  # real Bedrock pads payloads with a "p" field

# A realistic ConverseStream: text, then two tool uses whose arguments arrive split, then stop and metadata.
EVENTS = [
    ("messageStart", {"role": "assistant", **PAD}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Let me "}, **PAD}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "check."}, **PAD}),
    ("contentBlockStop", {"contentBlockIndex": 0, **PAD}),
    (
        "contentBlockStart",
        {
            "contentBlockIndex": 1,
            "start": {"toolUse": {"toolUseId": "tooluse_a", "name": "get_weather"}},
            **PAD,
        },
    ),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city":'}}, **PAD}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": ' "Paris"}'}}, **PAD}),
    ("contentBlockStop", {"contentBlockIndex": 1, **PAD}),
    (
        "contentBlockStart",
        {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_b", "name": "get_time"}}, **PAD},
    ),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"tz": '}}, **PAD}),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '"CET"}'}}, **PAD}),
    ("contentBlockStop", {"contentBlockIndex": 2, **PAD}),
    ("messageStop", {"stopReason": "tool_use", **PAD}),
    (
        "metadata",
        {
            "usage": {"inputTokens": 20, "outputTokens": 30, "totalTokens": 50, "cacheReadInputTokens": 5},
            "metrics": {"latencyMs": 321},
            **PAD,
        },
    ),
]


def chunk(delta: dict, finish_reason: str | None = None, *, usage_field: bool = True) -> dict:
    result = {
        "id": "chatcmpl-req-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "claude-3-5-sonnet",
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage_field:
        result["usage"] = None
    return result


def output_message(translator: StreamTranslator) -> dict:
    """The assembled message as observability records it."""
    return answer_message(translator.answer(), refusal=False)


def run(events, *, include_usage: bool = True, json_tool: str | None = None, choice_index: int = 0):
    translator = StreamTranslator(
        ChunkRenderer("req-1", "claude-3-5-sonnet", 1700000000, include_usage, choice_index), json_tool
    )
    chunks = [c for event_type, payload in events for c in translator.feed(event_type, payload)]
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    return translator, chunks


def test_a_realistic_stream_becomes_exactly_openais_chunk_sequence():
    translator, chunks = run(EVENTS)
    usage = {
        "prompt_tokens": 25,
        "completion_tokens": 30,
        "total_tokens": 55,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert chunks == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Let me "}),
        chunk({"content": "check."}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "tooluse_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "tooluse_b",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": '}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"CET"}'}}]}),
        chunk({}, "tool_calls"),
        {
            "id": "chatcmpl-req-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "claude-3-5-sonnet",
            "system_fingerprint": None,
            "choices": [],
            "usage": usage,
        },
    ]
    assert usage_to_openai(translator.usage) == usage
    assert translator.finish_reason == "tool_calls"
    assert translator.started
    assert output_message(translator) == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "tooluse_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "tooluse_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
            },
        ],
    }


def test_without_include_usage_there_is_no_usage_chunk_and_no_usage_field():
    translator, chunks = run(EVENTS, include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert translator.usage.total_tokens == 55  # still known for observability


def test_the_choice_index_is_carried_on_every_chunk():
    _, chunks = run(EVENTS[:3], choice_index=2)
    assert [c["choices"][0]["index"] for c in chunks] == [2, 2, 2]


def test_nothing_has_started_before_the_first_chunk():
    translator = StreamTranslator(ChunkRenderer("r", "m", 1, True), None)
    assert not translator.started and translator.usage is None and translator.finish_reason is None
    assert translator.feed("contentBlockStop", {"contentBlockIndex": 0}) == []
    assert not translator.started


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("somethingNew", {"x": 1}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": ""}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"citation": {"title": "t"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 5, "delta": {"toolUse": {"input": "{}"}}}),
        ("contentBlockStart", {"contentBlockIndex": 0, "start": {"image": {}}}),
    ],
    ids=[
        "unknown-event",
        "empty-text",
        "unknown-delta",
        "tool-delta-for-an-unknown-block",
        "non-tool-block-start",
    ],
)
def test_events_without_content_for_the_client_produce_no_chunk(event_type, payload):
    assert run([(event_type, payload)])[1] == []


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("guardrail_intervened", "content_filter"),
    ],
    ids=lambda v: v,
)
def test_message_stop_carries_the_mapped_finish_reason(stop_reason, finish_reason):
    translator, chunks = run([("messageStop", {"stopReason": stop_reason})])
    assert chunks == [chunk({}, finish_reason)]
    assert translator.finish_reason == finish_reason


def test_a_tool_called_without_arguments_gets_an_empty_json_object():
    events = [
        (
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t1", "name": "now"}}},
        ),
        ("contentBlockStop", {"contentBlockIndex": 0}),
    ]
    translator, chunks = run(events)
    assert chunks[-1]["choices"][0]["delta"] == {
        "tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]
    }
    assert output_message(translator)["tool_calls"][0]["function"]["arguments"] == "{}"
    assert output_message(translator)["content"] is None


def test_in_json_mode_the_forced_tool_streams_as_content():
    events = [
        ("messageStart", {"role": "assistant"}),
        (
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t1", "name": "verdict"}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"answer"'}}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": ': "yes"}'}}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "tool_use"}),
    ]
    translator, chunks = run(events, json_tool="verdict")
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": '{"answer"'},
        {"content": ': "yes"}'},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert output_message(translator) == {"role": "assistant", "content": '{"answer": "yes"}'}


def test_in_json_mode_text_before_the_json_answer_is_dropped():
    events = [
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Sure: "}}),
        (
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "verdict"}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        ("messageStop", {"stopReason": "tool_use"}),
    ]
    _, chunks = run(events, json_tool="verdict")
    assert [c["choices"][0]["delta"] for c in chunks] == [{"content": "{}"}, {}]


def test_in_json_mode_a_plain_text_answer_is_released_at_the_end():
    events = [
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "I cannot "}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "answer."}}),
        ("messageStop", {"stopReason": "end_turn"}),
    ]
    _, chunks = run(events, json_tool="verdict")
    assert [c["choices"][0]["delta"] for c in chunks] == [{"content": "I cannot answer."}, {}]


def test_reasoning_deltas_stream_as_reasoning_content():
    events = [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm"}}})]
    translator, chunks = run(events)
    assert chunks[0]["choices"][0]["delta"] == {"reasoning_content": "Hmm"}
    assert output_message(translator)["reasoning_content"] == "Hmm"


def test_replaying_a_converse_response_gives_the_same_answer_as_the_non_streamed_path():
    response = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "t1", "name": "w", "input": {"c": "Oslo"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10},
    }
    translator = StreamTranslator(ChunkRenderer("req-1", "m", 1, True), None)
    chunks = chunks_from_converse(translator, response)
    for c in chunks:
        ChatCompletionChunk.model_validate(c)
    completion = completion_from_answers("req-1", 1, "m", [from_converse(response, json_tool=None)])
    ChatCompletion.model_validate(completion)
    message = completion["choices"][0]["message"]
    streamed = output_message(translator)
    assert streamed["content"] == message["content"]
    assert streamed["tool_calls"] == message["tool_calls"]
    assert translator.finish_reason == completion["choices"][0]["finish_reason"]
    assert usage_to_openai(translator.usage) == completion["usage"]
    assert [e[0] for e in converse_events(response)] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]


def test_an_assembled_stream_matches_what_the_openai_sdk_accumulates():
    _, chunks = run(EVENTS)
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    arguments: dict[int, str] = {}
    for c in chunks:
        for call in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            arguments[call["index"]] = arguments.get(call["index"], "") + call["function"]["arguments"]
    assert content == "Let me check."
    assert {i: orjson.loads(a) for i, a in arguments.items()} == {0: {"city": "Paris"}, 1: {"tz": "CET"}}
