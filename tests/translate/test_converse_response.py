"""from_converse, completion_from_answers, usage_from_converse: Bedrock answers in OpenAI's exact completion
shape."""

from __future__ import annotations

import orjson
import pytest
from openai.types.chat import ChatCompletion

from bedrock_proxy.bedrock.translate import from_converse, usage_from_converse
from bedrock_proxy.openai.completions import completion_from_answers
from bedrock_proxy.openai.usage import usage_to_openai

USAGE = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}


def converse(*blocks: dict, stop: str = "end_turn", usage: dict | None = None) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": list(blocks)}},
        "stopReason": stop,
        "usage": usage or USAGE,
        "metrics": {"latencyMs": 42},
    }


def tool_use(tool_id: str, name: str, arguments: dict) -> dict:
    return {"toolUse": {"toolUseId": tool_id, "name": name, "input": arguments}}


def complete(*responses: dict, json_tool: str | None = None) -> dict:
    answers = [from_converse(response, json_tool=json_tool) for response in responses]
    result = completion_from_answers("req-1", 1700000000, "claude-3-5-sonnet", answers)
    ChatCompletion.model_validate(result)
    return result


def test_a_text_answer_has_exactly_openais_shape():
    assert complete(converse({"text": "Hello"})) == {
        "id": "chatcmpl-req-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "claude-3-5-sonnet",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": None,
    }


def test_an_id_that_already_has_the_prefix_is_kept():
    result = completion_from_answers(
        "chatcmpl-abc", 1, "m", [from_converse(converse({"text": "x"}), json_tool=None)]
    )
    assert result["id"] == "chatcmpl-abc"


def test_tool_uses_become_tool_calls_with_bedrocks_ids_and_json_string_arguments():
    result = complete(
        converse(
            {"text": "Let me check."},
            tool_use("tooluse_a", "get_weather", {"city": "Paris"}),
            tool_use("tooluse_b", "get_time", {}),
            stop="tool_use",
        )
    )
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "tooluse_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "tooluse_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]


def test_tool_calls_without_text_have_null_content():
    result = complete(converse(tool_use("t1", "f", {"a": 1}), stop="tool_use"))
    assert result["choices"][0]["message"]["content"] is None


def test_several_text_blocks_are_joined():
    assert complete(converse({"text": "Hel"}, {"text": "lo"}))["choices"][0]["message"]["content"] == "Hello"


def test_an_empty_answer_has_empty_string_content():
    assert complete(converse())["choices"][0]["message"]["content"] == ""


def test_the_forced_json_tool_becomes_the_message_content():
    result = complete(
        converse({"text": "Here you go"}, tool_use("t1", "verdict", {"answer": "yes"}), stop="tool_use"),
        json_tool="verdict",
    )
    choice = result["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == {"answer": "yes"}
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]


def test_with_a_json_tool_a_real_tool_call_is_still_a_tool_call():
    result = complete(
        converse(tool_use("t1", "get_weather", {"city": "Oslo"}), stop="tool_use"), json_tool="verdict"
    )
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("malformed_model_output", "stop"),
        ("malformed_tool_use", "stop"),
        ("something_new", "stop"),
    ],
    ids=lambda v: v,
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason, finish_reason):
    assert complete(converse({"text": "x"}, stop=stop_reason))["choices"][0]["finish_reason"] == finish_reason


def test_tool_use_stop_without_tool_calls_finishes_as_stop():
    assert complete(converse({"text": "x"}, stop="tool_use"))["choices"][0]["finish_reason"] == "stop"


def test_reasoning_content_is_exposed_like_litellm_does():
    reasoning = {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig"}}}
    message = complete(converse(reasoning, {"text": "Answer"}))["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("Answer", "Think.")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, (3, 1, 4, 0)),
        (
            {
                "inputTokens": 3,
                "outputTokens": 2,
                "totalTokens": 105,
                "cacheReadInputTokens": 60,
                "cacheWriteInputTokens": 40,
            },
            (103, 2, 105, 60),
        ),
        ({}, (0, 0, 0, 0)),
        (None, (0, 0, 0, 0)),
    ],
    ids=["plain", "cache-read-and-write-count-as-prompt", "empty", "missing"],
)
def test_usage_counts_cached_input_as_prompt_tokens(usage, expected):
    result = usage_to_openai(usage_from_converse(usage))
    assert (
        result["prompt_tokens"],
        result["completion_tokens"],
        result["total_tokens"],
        result["prompt_tokens_details"]["cached_tokens"],
    ) == expected
    assert result["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_n_answers_become_one_completion_with_indexed_choices_and_summed_usage():
    cached = {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "cacheReadInputTokens": 4}
    first = complete(converse({"text": "A"}, usage=cached))
    merged = complete(
        converse({"text": "A"}, usage=cached), converse({"text": "B"}, stop="max_tokens", usage=cached)
    )
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in merged["choices"]] == [
        (0, "A", "stop"),
        (1, "B", "length"),
    ]
    assert merged["usage"] == {
        "prompt_tokens": 28,
        "completion_tokens": 10,
        "total_tokens": 38,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert merged["id"] == first["id"]
