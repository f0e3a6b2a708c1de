"""parse_messages_request: Anthropic Messages bodies into the gateway's ChatRequest, and every mistake a 400
naming the field (tables)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bedrock_proxy.anthropic.messages_request import parse_messages_request
from bedrock_proxy.bedrock.translate import to_converse
from bedrock_proxy.chat.request import (
    DocumentPart,
    ImagePart,
    Reasoning,
    ReasoningMode,
    ReasoningPart,
    RemoteImagePart,
    TextPart,
    ToolChoice,
    ToolChoiceMode,
)
from bedrock_proxy.errors import GatewayError

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-3-haiku",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        **fields,
    }


def test_a_plain_body_is_one_user_message_with_the_anthropic_client_api() -> None:
    request = parse_messages_request(body())
    assert request.model == "claude-3-haiku" and request.max_tokens == 100 and not request.stream
    assert [(m.role, m.parts) for m in request.parsed_messages] == [("user", [TextPart("Hi")])]
    assert request.client_api == "anthropic.messages" and request.clamp_max_tokens


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("Be brief.", [TextPart("Be brief.")]),
        (
            [
                {"type": "text", "text": "A"},
                {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}},
            ],
            [TextPart("A"), TextPart("B", cache=True)],
        ),
    ],
)
def test_system_as_a_string_or_blocks_becomes_a_system_message(system: Any, expected: list[Any]) -> None:
    request = parse_messages_request(body(system=system))
    assert request.parsed_messages[0].role == "system"
    assert request.parsed_messages[0].parts == expected
    assert request.messages[0] == {"role": "system", "content": system}  # what observability records


def test_blocks_of_every_kind_become_parts() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                {
                    "type": "document",
                    "title": "Q3 report.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": PNG},
                },
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Hmm", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/a"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "file text", "is_error": False},
                {"type": "text", "text": "And now?"},
            ],
        },
    ]
    request = parse_messages_request(body(messages=messages))
    user, assistant, result, follow_up = request.parsed_messages
    assert user.parts[0] == TextPart("Look", cache=True)
    assert user.parts[1] == ImagePart("png", PNG, "messages[0].content[1].source")  # the real format, sniffed
    assert user.parts[2] == RemoteImagePart("https://example.com/a.png", "messages[0].content[2].source")
    assert user.parts[3] == DocumentPart("pdf", PNG, "Q3 report pdf", "messages[0].content[3]")
    assert user.parts[4] == DocumentPart(
        "txt", base64.b64encode(b"notes").decode(), "document-0-4", "messages[0].content[4]"
    )
    assert assistant.parts == [
        ReasoningPart("Hmm", signature="sig-1"),
        ReasoningPart("", redacted="opaque"),
        TextPart("Let me check."),
    ]
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [
        ("toolu_1", "Read", {"file_path": "/a"})
    ]
    assert (result.role, result.tool_call_id, result.parts, result.tool_error) == (
        "tool",
        "toolu_1",
        [TextPart("file text")],
        False,
    )
    assert (follow_up.role, follow_up.parts) == ("user", [TextPart("And now?")])


def test_a_failed_tool_result_with_blocks_is_an_error_result() -> None:
    content = [
        {"type": "text", "text": "no such file"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    messages = [
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": content, "is_error": True}],
        }
    ]
    (result,) = parse_messages_request(body(messages=messages)).parsed_messages
    assert (
        result.tool_error
        and result.parts[0] == TextPart("no such file")
        and isinstance(result.parts[1], ImagePart)
    )


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice(ToolChoiceMode.AUTO)),
        ({"type": "any"}, ToolChoice(ToolChoiceMode.REQUIRED)),
        ({"type": "none"}, ToolChoice(ToolChoiceMode.NONE)),
        ({"type": "tool", "name": "Read"}, ToolChoice(ToolChoiceMode.TOOL, "Read")),
        (None, None),
    ],
)
def test_tool_choice(choice: Any, expected: ToolChoice | None) -> None:
    tools = [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}}]
    request = parse_messages_request(body(tools=tools, tool_choice=choice))
    assert request.tool_choice == expected
    assert request.tools is not None and request.tools[0].name == "Read"


def test_server_tools_are_left_out_and_cache_control_on_a_tool_is_kept() -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search"},
        {"name": "Read", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
    ]
    request = parse_messages_request(body(tools=tools))
    assert request.tools is not None and [(t.name, t.cache) for t in request.tools] == [("Read", True)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, Reasoning(ReasoningMode.ENABLED, 2048)),
        (
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            Reasoning(ReasoningMode.ADAPTIVE, effort="high"),
        ),
        ({"thinking": {"type": "disabled"}}, Reasoning(ReasoningMode.DISABLED)),
        ({"output_config": {"effort": "low"}}, Reasoning(ReasoningMode.DISABLED, effort="low")),
        ({}, None),
    ],
)
def test_thinking_and_effort(fields: dict[str, Any], expected: Reasoning | None) -> None:
    assert parse_messages_request(body(**fields)).reasoning == expected


def test_what_claude_code_sends_besides_is_accepted() -> None:
    request = parse_messages_request(
        body(
            stream=True,
            metadata={"user_id": '{"device_id":"d","session_id":"s"}'},
            context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
                },
                {"role": "system", "content": "A reminder"},
            ],
            stop_sequences=["STOP"],
            temperature=0.5,
            top_p=0.9,
            top_k=40,
        )
    )
    assert request.stream and request.user == '{"device_id":"d","session_id":"s"}'
    assert [m.role for m in request.parsed_messages] == ["user", "system"]
    assert (request.stop, request.temperature, request.top_p, request.top_k) == (["STOP"], 0.5, 0.9, 40)


def test_count_tokens_needs_no_max_tokens() -> None:
    fields = body()
    del fields["max_tokens"]
    assert parse_messages_request(fields, count_tokens=True).max_tokens is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 3}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "data": "bm90IGFuIGltYWdl"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].source.data",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        ({"system": 5}, "system"),
        ({"temperature": 1.5}, "temperature"),
        ({"stop_sequences": "STOP"}, "stop_sequences"),
        ({"tools": [{"name": "bad name", "input_schema": {}}]}, "tools[0].name"),
        ({"tools": [{"name": "ok"}]}, "tools[0].input_schema"),
        ({"tools": [{"name": "ok", "input_schema": {}}] * 2}, "tools[1].name"),
        ({"top_k": 2**64}, "top_k"),
        ({"max_tokens": 2**63}, "max_tokens"),
        ({"stream": "yes"}, "stream"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "lots"}}, "thinking.type"),
        ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "x", "cache_control": {"type": "forever"}}],
                    }
                ]
            },
            "messages[0].content[0].cache_control",
        ),
    ],
)
def test_mistakes_are_400s_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_messages_request(body(**fields))
    assert caught.value.status == 400 and caught.value.param == param, caught.value.message
    assert param.split(".")[-1].split("[")[0] in caught.value.message


# ----------------------------------------------------------------------------------------------------------
# the parsed request through translate: what Bedrock receives


def converse(fields: dict[str, Any], model_id: str = "anthropic.claude-3-haiku-20240307-v1:0") -> Any:
    return to_converse(
        parse_messages_request(body(**fields)), model_id=model_id, defaults={}, drop_params=False, images={}
    )


def test_cache_control_becomes_cache_points_in_system_tools_and_messages() -> None:
    call = converse(
        {
            "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {"name": "Read", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "U", "cache_control": {"type": "ephemeral"}}],
                }
            ],
        }
    )
    assert call.body["system"] == [{"text": "S"}, {"cachePoint": {"type": "default"}}]
    assert call.body["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default"}}
    assert call.body["messages"][0]["content"] == [{"text": "U"}, {"cachePoint": {"type": "default"}}]


def test_thinking_blocks_go_back_unchanged_to_a_thinking_model_and_not_to_others() -> None:
    messages = [
        {"role": "user", "content": "Q"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Hmm", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "no", "is_error": True}],
        },
    ]
    tools = [{"name": "Read", "input_schema": {"type": "object"}}]
    sonnet = converse({"messages": messages, "tools": tools}, "eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert sonnet.body["messages"][1]["content"][:2] == [
        {"reasoningContent": {"reasoningText": {"text": "Hmm", "signature": "sig-1"}}},
        {"reasoningContent": {"redactedContent": "opaque"}},
    ]
    assert sonnet.body["messages"][2]["content"][0]["toolResult"]["status"] == "error"
    haiku = converse({"messages": messages, "tools": tools})
    assert [next(iter(b)) for b in haiku.body["messages"][1]["content"]] == ["toolUse"]


@pytest.mark.parametrize(
    ("model_id", "fields", "additional", "dropped"),
    [
        # Claude 3.7: budgets only; adaptive gets half the answer as its budget
        (
            "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
            (),
        ),
        (
            "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            {"max_tokens": 8000, "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            {"thinking": {"type": "enabled", "budget_tokens": 4000}},
            ("effort",),
        ),
        # Opus 4.7: adaptive only, with effort
        (
            "global.anthropic.claude-opus-4-7",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}, "output_config": {"effort": "max"}},
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
            (),
        ),
        # Sonnet 4.6: both
        (
            "eu.anthropic.claude-sonnet-4-6",
            {"thinking": {"type": "adaptive"}},
            {"thinking": {"type": "adaptive"}},
            (),
        ),
        # Claude 3 Haiku: no extended thinking
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
            None,
            ("thinking", "effort"),
        ),
        ("anthropic.claude-3-haiku-20240307-v1:0", {"thinking": {"type": "disabled"}}, None, ()),
    ],
)
def test_thinking_and_effort_are_mapped_per_model(
    model_id: str, fields: dict[str, Any], additional: dict[str, Any] | None, dropped: tuple[str, ...]
) -> None:
    call = converse(fields, model_id)
    assert call.body.get("additionalModelRequestFields") == additional
    assert tuple(name for name in call.dropped if name != "max_tokens") == dropped


def test_max_tokens_above_the_model_limit_is_lowered_for_a_client_that_sends_its_ceiling() -> None:
    call = converse({"max_tokens": 64000})
    assert call.body["inferenceConfig"]["maxTokens"] == 4096 and "max_tokens" in call.dropped
