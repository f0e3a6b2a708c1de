"""The seam a second client API plugs into: Bedrock's stream translator drives any StreamRenderer, and
answers and usage come out in the gateway's own types, with no OpenAI shape in between."""

from __future__ import annotations

from bedrock_proxy.bedrock.streaming import StreamTranslator, chunks_from_converse
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.usage import Usage, total_usage
from bedrock_proxy.openai.usage import usage_from_openai, usage_to_openai

RESPONSE = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}},
            ],
        }
    },
    "stopReason": "tool_use",
    "usage": {"inputTokens": 7, "outputTokens": 3, "cacheReadInputTokens": 2},
}


class EventNames:
    """A renderer for another API's stream: here just the names of what it was asked to send."""

    def start(self):
        return "start"

    def text(self, text):
        return f"text:{text}"

    def reasoning(self, text):
        return f"reasoning:{text}"

    def tool_start(self, position, call_id, name):
        return f"tool:{position}:{call_id}:{name}"

    def tool_arguments(self, position, arguments):
        return f"args:{position}:{arguments}"

    def finish(self, finish_reason):
        return f"finish:{finish_reason}"

    def usage(self, usage, service_tier=None, guardrail_trace=None):
        return f"usage:{usage.total_tokens}"


def test_a_stream_translator_drives_any_renderer_one_call_per_delta():
    translator = StreamTranslator(EventNames(), None)
    assert chunks_from_converse(translator, RESPONSE) == [
        "start",
        "text:Checking.",
        "tool:0:t1:get_weather",
        'args:0:{"city":"Oslo"}',
        "finish:tool_calls",
        "usage:12",
    ]


def test_a_streamed_answer_and_a_whole_answer_are_the_same_gateway_answer():
    translator = StreamTranslator(EventNames(), None)
    chunks_from_converse(translator, RESPONSE)
    expected = ChatAnswer(
        "Checking.",
        [AnswerToolCall("t1", "get_weather", '{"city":"Oslo"}')],
        None,
        "tool_calls",
        Usage(prompt_tokens=9, completion_tokens=3, cache_read_tokens=2),
    )
    assert translator.answer() == expected
    assert from_converse(RESPONSE, json_tool=None) == expected


def test_usage_goes_to_openai_and_back_unchanged():
    usage = Usage(prompt_tokens=110, completion_tokens=4, cache_read_tokens=60, cache_write_tokens=40)
    assert usage_from_openai(usage_to_openai(usage)) == usage
    assert total_usage([usage, None, usage]) == usage + usage
