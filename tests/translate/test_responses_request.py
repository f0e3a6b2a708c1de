"""The Responses API body -> ChatRequest, as tables: what each input shape becomes, what is dropped (and
noted) for coding agents, and every mistake a 400 naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_proxy.chat.request import (
    ImagePart,
    Message,
    RemoteImagePart,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
)
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai.responses_request import parse_responses_request, previous_response_id
from tests.translate.helpers import PNG, data_url


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude", **fields}


def shape(messages: list[Message]) -> list[tuple[Any, ...]]:
    """Each message as (role, texts or parts, tool calls, tool_call_id) for compact tables."""
    out = []
    for m in messages:
        parts = [p.text if isinstance(p, TextPart) else p for p in m.parts]
        calls = [(c.id, c.name, c.arguments) for c in m.tool_calls]
        out.append((m.role, parts, calls, m.tool_call_id))
    return out


WEATHER_CALL = {
    "type": "function_call",
    "call_id": "c1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
}

INPUTS = [
    ("a string is one user message", "Hello", [("user", ["Hello"], [], None)]),
    (
        "easy messages without a type, string content",
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        [("user", ["Hi"], [], None), ("assistant", ["Hello!"], [], None)],
    ),
    (
        "developer and system become system",
        [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be terse"}]},
            {"role": "system", "content": "Be kind"},
            {"role": "user", "content": [{"type": "input_text", "text": "Go"}]},
        ],
        [("system", ["Be terse"], [], None), ("system", ["Be kind"], [], None), ("user", ["Go"], [], None)],
    ),
    (
        "assistant output_text and refusal parts are text",
        [
            {"role": "user", "content": "Q"},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "A", "annotations": []},
                    {"type": "refusal", "refusal": "no"},
                ],
            },
        ],
        [("user", ["Q"], [], None), ("assistant", ["A", "no"], [], None)],
    ),
    (
        "parallel function calls are one assistant turn, each output a tool message",
        [
            {"role": "user", "content": "Weather?"},
            WEATHER_CALL,
            {"type": "function_call", "call_id": "c2", "name": "get_time", "arguments": ""},
            {"type": "function_call_output", "call_id": "c1", "output": "Sunny"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "9h"}],
            },
        ],
        [
            ("user", ["Weather?"], [], None),
            ("assistant", [], [("c1", "get_weather", {"city": "Paris"}), ("c2", "get_time", {})], None),
            ("tool", ["Sunny"], [], "c1"),
            ("tool", ["9h"], [], "c2"),
        ],
    ),
    (
        "reasoning items, hosted tool calls and Codex's namespaced outputs are left out",
        [
            {"role": "user", "content": "Hi"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "function_call_output", "name": "goal", "namespace": "agent", "output": "x"},
        ],
        [("user", ["Hi"], [], None)],
    ),
]


@pytest.mark.parametrize(("case", "value", "expected"), INPUTS, ids=[c[0] for c in INPUTS])
def test_input_shapes(case: str, value: Any, expected: list[tuple[Any, ...]]) -> None:
    request = parse_responses_request(body(input=value))
    assert shape(request.chat.parsed_messages) == expected
    assert request.chat.client_api == "openai.responses"


def test_instructions_come_first_and_history_before_the_new_input() -> None:
    history = [
        {"role": "user", "content": "Earlier"},
        {"type": "message", "role": "assistant", "content": "Yes"},
    ]
    request = parse_responses_request(body(input="Now", instructions="Rules"), history)
    assert shape(request.chat.parsed_messages) == [
        ("system", ["Rules"], [], None),
        ("user", ["Earlier"], [], None),
        ("assistant", ["Yes"], [], None),
        ("user", ["Now"], [], None),
    ]
    assert request.chat.messages == [*history, *request.input_items]  # what observability records
    assert request.input_items == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Now"}]}
    ]


def test_images_inline_and_by_url() -> None:
    request = parse_responses_request(
        body(
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": data_url(PNG), "detail": "auto"},
                        {"type": "input_image", "image_url": "https://example.com/a.png"},
                    ],
                }
            ]
        )
    )
    first, second = request.chat.parsed_messages[0].parts
    assert isinstance(first, ImagePart) and first.format == "png"
    assert isinstance(second, RemoteImagePart) and second.url == "https://example.com/a.png"
    assert first.param == "input[0].content[0].image_url"


SETTINGS = [
    ("max_output_tokens", {"max_output_tokens": 100}, "max_tokens", 100),
    ("temperature", {"temperature": 0.3}, "temperature", 0.3),
    ("top_p", {"top_p": 0.9}, "top_p", 0.9),
    ("metadata", {"metadata": {"session_id": "s"}}, "metadata", {"session_id": "s"}),
    ("user", {"user": "u-1"}, "user", "u-1"),
    ("safety_identifier as user", {"safety_identifier": "h"}, "user", "h"),
    ("parallel_tool_calls", {"parallel_tool_calls": False}, "parallel_tool_calls", False),
    ("stream", {"stream": True}, "stream", True),
    ("json_object", {"text": {"format": {"type": "json_object"}}}, "response_format", "json_object"),
    (
        "json_schema",
        {"text": {"format": {"type": "json_schema", "name": "city", "schema": {"type": "object"}}}},
        "json_schema",
        {"type": "object"},
    ),
]


@pytest.mark.parametrize(("case", "fields", "attribute", "value"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_settings_reach_the_chat_request(
    case: str, fields: dict[str, Any], attribute: str, value: Any
) -> None:
    request = parse_responses_request(body(input="Hi", **fields))
    assert getattr(request.chat, attribute) == value


def test_function_tools_are_kept_and_other_tool_types_dropped_and_noted() -> None:
    request = parse_responses_request(
        body(
            input="Hi",
            tools=[
                {"type": "function", "name": "shell", "description": "Run", "parameters": {"type": "object"}},
                {"type": "web_search"},
                {"type": "namespace", "name": "mcp", "tools": []},
                {"type": "local_shell"},
                {"type": "custom", "name": "apply_patch"},
            ],
            reasoning={"effort": "high", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            store=False,
            prompt_cache_key="k",
            client_metadata={"a": "b"},
        )
    )
    assert [(t.name, t.description, t.parameters) for t in request.chat.tools or []] == [
        ("shell", "Run", {"type": "object"})
    ]
    assert request.dropped == [
        "tools[1] (web_search)",
        "tools[2] (namespace)",
        "tools[3] (local_shell)",
        "tools[4] (custom)",
    ]
    # reasoning.effort is applied: reasoning is asked for (bedrock.reasoning maps it per model)
    assert request.chat.reasoning is not None and request.chat.reasoning.effort == "high"
    assert request.chat.reasoning.param == "reasoning.effort"
    assert request.store is False
    assert request.echo["reasoning"] == {"effort": "high", "summary": "auto"}
    assert [tool["name"] for tool in request.echo["tools"]] == ["shell"]


TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}}
CHOICES = [
    ("auto", "auto", ToolChoice(ToolChoiceMode.AUTO), "auto"),
    ("none", "none", ToolChoice(ToolChoiceMode.NONE), "none"),
    ("required", "required", ToolChoice(ToolChoiceMode.REQUIRED), "required"),
    (
        "a named function",
        {"type": "function", "name": "f"},
        ToolChoice(ToolChoiceMode.TOOL, "f"),
        {"type": "function", "name": "f"},
    ),
    (
        "allowed_tools required",
        {"type": "allowed_tools", "mode": "required", "tools": [TOOL]},
        ToolChoice(ToolChoiceMode.REQUIRED),
        "required",
    ),
    ("a hosted tool: the model decides", {"type": "web_search_preview"}, None, "auto"),
]


@pytest.mark.parametrize(("case", "value", "expected", "echo"), CHOICES, ids=[c[0] for c in CHOICES])
def test_tool_choice(case: str, value: Any, expected: ToolChoice | None, echo: Any) -> None:
    request = parse_responses_request(body(input="Hi", tools=[TOOL], tool_choice=value))
    assert request.chat.tool_choice == expected
    assert request.echo["tool_choice"] == echo


ERRORS = [
    ("body not an object", ["x"], None),
    ("no model", {"input": "Hi"}, "model"),
    ("no input", body(), "input"),
    ("input a number", body(input=3), "input"),
    ("an item not an object", body(input=["Hi"]), "input[0]"),
    ("a bad role", body(input=[{"role": "robot", "content": "x"}]), "input[0].role"),
    ("content a number", body(input=[{"role": "user", "content": 1}]), "input[0].content"),
    (
        "an image in an assistant message",
        body(
            input=[
                {"role": "assistant", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}
            ]
        ),
        "input[0].content[0].type",
    ),
    (
        "a file id instead of an image",
        body(input=[{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]),
        "input[0].content[0].file_id",
    ),
    (
        "an input_file part",
        body(input=[{"role": "user", "content": [{"type": "input_file", "file_data": "x"}]}]),
        "input[0].content[0]",
    ),
    (
        "a text part without text",
        body(input=[{"role": "user", "content": [{"type": "input_text"}]}]),
        "input[0].content[0].text",
    ),
    (
        "a function_call_output without call_id",
        body(input=[{"type": "function_call_output", "output": "x"}]),
        "input[0].call_id",
    ),
    ("a function_call without call_id", body(input=[{**WEATHER_CALL, "call_id": ""}]), "input[0].call_id"),
    ("a function_call with a bad name", body(input=[{**WEATHER_CALL, "name": "a b"}]), "input[0].name"),
    ("arguments not JSON", body(input=[{**WEATHER_CALL, "arguments": "{"}]), "input[0].arguments"),
    ("arguments not an object", body(input=[{**WEATHER_CALL, "arguments": "[1]"}]), "input[0].arguments"),
    ("an item reference", body(input=[{"type": "item_reference", "id": "msg_1"}]), "input[0].type"),
    ("an item type not a string", body(input=[{"type": 3}]), "input[0].type"),
    ("temperature too high", body(input="x", temperature=2.5), "temperature"),
    ("top_p a string", body(input="x", top_p="high"), "top_p"),
    ("max_output_tokens zero", body(input="x", max_output_tokens=0), "max_output_tokens"),
    ("max_output_tokens past 64 bits", body(input="x", max_output_tokens=2**64), "max_output_tokens"),
    ("stream a string", body(input="x", stream="yes"), "stream"),
    ("metadata a list", body(input="x", metadata=[]), "metadata"),
    ("tools an object", body(input="x", tools={}), "tools"),
    ("a tool without a type", body(input="x", tools=[{"name": "f"}]), "tools[0].type"),
    (
        "a function tool with a bad name",
        body(input="x", tools=[{"type": "function", "name": "a b"}]),
        "tools[0].name",
    ),
    ("a tool declared twice", body(input="x", tools=[TOOL, TOOL]), "tools[1].name"),
    ("parameters not an object", body(input="x", tools=[{**TOOL, "parameters": []}]), "tools[0].parameters"),
    ("tool_choice unknown", body(input="x", tool_choice="always"), "tool_choice"),
    ("tool_choice required without tools", body(input="x", tool_choice="required"), "tool_choice"),
    (
        "tool_choice naming no tool",
        body(input="x", tools=[TOOL], tool_choice={"type": "function", "name": "g"}),
        "tool_choice.name",
    ),
    ("text.format unknown", body(input="x", text={"format": {"type": "xml"}}), "text.format.type"),
    (
        "json_schema without a schema",
        body(input="x", text={"format": {"type": "json_schema", "name": "a"}}),
        "text.format.schema",
    ),
    ("reasoning a string", body(input="x", reasoning="high"), "reasoning"),
    ("reasoning.effort a number", body(input="x", reasoning={"effort": 3}), "reasoning.effort"),
    ("background", body(input="x", background=True), "background"),
    ("conversation", body(input="x", conversation="conv_1"), "conversation"),
    ("prompt templates", body(input="x", prompt={"id": "pmpt_1"}), "prompt"),
    ("previous_response_id empty", body(input="x", previous_response_id=""), "previous_response_id"),
]


@pytest.mark.parametrize(("case", "value", "param"), ERRORS, ids=[e[0] for e in ERRORS])
def test_mistakes_are_400s_naming_the_field(case: str, value: Any, param: str | None) -> None:
    with pytest.raises(GatewayError) as raised:
        previous_response_id(value)
        parse_responses_request(value)
    assert raised.value.status == 400
    assert raised.value.param == param
    assert raised.value.type == "invalid_request_error"
    if param is not None:
        assert f"'{param}" in raised.value.message or param.split(".")[0] in raised.value.message


def test_a_tool_call_in_history_keeps_its_arguments() -> None:
    request = parse_responses_request(body(input=[WEATHER_CALL]))
    assert request.chat.parsed_messages[0].tool_calls == [ToolCall("c1", "get_weather", {"city": "Paris"})]
