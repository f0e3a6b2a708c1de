"""Tool choice on Mistral Large (`any` yes, a named `tool` no, as AWS documents), and the usage chunk of
n > 1 streams."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

from bedrock_proxy.bedrock.translate import to_converse
from bedrock_proxy.openai.chat_request import parse_chat_request
from tests.gateway.test_chat_completions import CLOCK
from tests.gateway.test_chat_streaming import sse_events
from tests.support.seed import WEATHER_TOOL

MISTRAL_LARGE = "mistral.mistral-large-2402-v1:0"


def converse_tool_config(body: dict, model_id: str = MISTRAL_LARGE) -> dict | None:
    request = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "q"}], **body})
    return to_converse(request, model_id=model_id, defaults={}, drop_params=False, images={}).body.get(
        "toolConfig"
    )


def declared(config: dict) -> list[str]:
    return [spec["toolSpec"]["name"] for spec in config["tools"] if "toolSpec" in spec]


@pytest.mark.parametrize(
    ("body", "tools", "choice"),
    [
        (
            {
                "tools": [WEATHER_TOOL, CLOCK],
                "tool_choice": {"type": "function", "function": {"name": "get_time"}},
            },
            ["get_time"],
            {"any": {}},
        ),
        (
            {"tools": [WEATHER_TOOL, CLOCK], "tool_choice": "required"},
            ["get_weather", "get_time"],
            {"any": {}},
        ),
        ({"response_format": {"type": "json_object"}}, ["json_object"], {"any": {}}),
        (
            {"tools": [WEATHER_TOOL], "tool_choice": "none", "response_format": {"type": "json_object"}},
            ["json_object"],
            {"any": {}},
        ),
    ],
    ids=["named-function", "required", "json-object", "json-object-with-tools-not-to-use"],
)
def test_mistral_large_is_forced_with_any_never_with_a_named_tool_choice(
    body: dict, tools: list[str], choice: dict
) -> None:
    config = converse_tool_config(body)
    assert declared(config) == tools
    assert config["toolChoice"] == choice


def test_claude_keeps_the_named_tool_choice_and_every_tool() -> None:
    config = converse_tool_config(
        {
            "tools": [WEATHER_TOOL, CLOCK],
            "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        },
        "anthropic.claude-3-haiku-20240307-v1:0",
    )
    assert declared(config) == ["get_weather", "get_time"]
    assert config["toolChoice"] == {"tool": {"name": "get_time"}}


def test_mistral_large_calls_the_named_tool(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="mistral-large",
        messages=[{"role": "user", "content": "Quelle est la météo à Paris ?"}],
        tools=[WEATHER_TOOL, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.function.name for c in response.choices[0].message.tool_calls] == ["get_time"]


def test_mistral_large_answers_json_object_as_json(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="mistral-large",
        messages=[{"role": "user", "content": "Un objet JSON sur Paris"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(response.choices[0].message.content), dict)


def test_the_usage_chunk_of_an_n_stream_has_the_same_shape_as_for_one_choice(gateway_url: str) -> None:
    def usage(n: int) -> dict:
        _, _, events = sse_events(
            gateway_url,
            {
                "model": "claude-3-haiku",
                "messages": [{"role": "user", "content": "Bonjour"}],
                "n": n,
                "stream_options": {"include_usage": True},
            },
        )
        return json.loads(events[-2])["usage"]

    one, two = usage(1), usage(2)
    assert set(two) == set(one)
    assert two["prompt_tokens_details"] == {"cached_tokens": 0}
