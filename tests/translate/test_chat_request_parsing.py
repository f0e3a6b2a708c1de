"""parse_chat_request: what the gateway accepts from OpenAI clients, and the exact field it blames."""

from __future__ import annotations

import pytest

from bedrock_proxy.chat.request import ToolChoice, ToolChoiceMode, remote_image_urls
from bedrock_proxy.openai.chat_request import parse_chat_request

from .helpers import JPEG, PNG, assistant, call, chat, data_url, expect_400, function_tool, tool, user

BAD_REQUESTS = [
    ("not-an-object", ["x"], None),
    ("missing-model", {"messages": [user("Hi")]}, "model"),
    ("model-not-a-string", {"model": 3, "messages": [user("Hi")]}, "model"),
    ("missing-messages", {"model": "m"}, "messages"),
    ("empty-messages", {"model": "m", "messages": []}, "messages"),
    ("message-not-an-object", chat("hello"), "messages[0]"),
    ("unknown-role", chat({"role": "robot", "content": "x"}), "messages[0].role"),
    ("user-content-number", chat(user(42)), "messages[0].content"),
    ("user-content-null", chat(user(None)), "messages[0].content"),
    (
        "system-with-image",
        chat({"role": "system", "content": [{"type": "image_url"}]}),
        "messages[0].content[0]",
    ),
    ("text-part-without-text", chat(user([{"type": "text"}])), "messages[0].content[0].text"),
    ("unknown-part-type", chat(user([{"type": "video"}])), "messages[0].content[0].type"),
    ("audio-part", chat(user([{"type": "input_audio", "input_audio": {}}])), "messages[0].content[0]"),
    ("file-part", chat(user([{"type": "file", "file": {"file_data": "x"}}])), "messages[0].content[0]"),
    (
        "ftp-image-url",
        chat(user("a"), assistant("b"), user([{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}])),
        "messages[2].content[0].image_url",
    ),
    (
        "bmp-data-url",
        chat(user([{"type": "image_url", "image_url": {"url": data_url(b"BM..", "image/bmp")}}])),
        "messages[0].content[0].image_url",
    ),
    (
        "data-url-bad-base64",
        chat(user([{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}])),
        "messages[0].content[0].image_url",
    ),
    (
        "data-url-not-an-image",
        chat(user([{"type": "image_url", "image_url": {"url": data_url(b"hello world")}}])),
        "messages[0].content[0].image_url",
    ),
    (
        "data-url-without-base64",
        chat(user([{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}])),
        "messages[0].content[0].image_url",
    ),
    ("image-url-missing", chat(user([{"type": "image_url"}])), "messages[0].content[0].image_url.url"),
    ("tool-without-call-id", chat(user("a"), {"role": "tool", "content": "x"}), "messages[1].tool_call_id"),
    ("tool-calls-not-a-list", chat(user("a"), assistant(tool_calls={})), "messages[1].tool_calls"),
    (
        "tool-call-without-id",
        chat(user("a"), assistant(tool_calls=[{"function": {}}])),
        "messages[1].tool_calls[0].id",
    ),
    (
        "tool-call-bad-name",
        chat(user("a"), assistant(tool_calls=[call("c1", "get weather")])),
        "messages[1].tool_calls[0].function.name",
    ),
    (
        "tool-call-invalid-json",
        chat(user("a"), assistant(tool_calls=[call("c1", "w", "{city: Paris")])),
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        "tool-call-json-array",
        chat(user("a"), assistant(tool_calls=[call("c1", "w", "[1, 2]")])),
        "messages[1].tool_calls[0].function.arguments",
    ),
    ("max-tokens-string", chat(max_tokens="100"), "max_tokens"),
    ("max-tokens-zero", chat(max_tokens=0), "max_tokens"),
    ("max-tokens-boolean", chat(max_tokens=True), "max_tokens"),
    ("max-completion-tokens-negative", chat(max_completion_tokens=-1), "max_completion_tokens"),
    ("temperature-above-2", chat(temperature=2.5), "temperature"),
    ("temperature-negative", chat(temperature=-0.1), "temperature"),
    ("temperature-string", chat(temperature="hot"), "temperature"),
    ("top-p-above-1", chat(top_p=1.5), "top_p"),
    ("top-k-negative", chat(top_k=-1), "top_k"),
    ("stop-number", chat(stop=5), "stop"),
    ("stop-five-sequences", chat(stop=["a", "b", "c", "d", "e"]), "stop"),
    ("n-zero", chat(n=0), "n"),
    ("n-nine", chat(n=9), "n"),
    ("presence-penalty-out-of-range", chat(presence_penalty=3), "presence_penalty"),
    ("frequency-penalty-string", chat(frequency_penalty="x"), "frequency_penalty"),
    ("logit-bias-list", chat(logit_bias=[1]), "logit_bias"),
    ("logprobs-string", chat(logprobs="yes"), "logprobs"),
    ("seed-float", chat(seed=1.5), "seed"),
    ("user-number", chat(user=7), "user"),
    ("metadata-list", chat(metadata=["a"]), "metadata"),
    ("stream-string", chat(stream="true"), "stream"),
    ("stream-options-list", chat(stream=True, stream_options=[]), "stream_options"),
    (
        "include-usage-string",
        chat(stream=True, stream_options={"include_usage": "yes"}),
        "stream_options.include_usage",
    ),
    ("tools-object", chat(tools={"name": "w"}), "tools"),
    ("tool-not-function", chat(tools=[{"type": "code_interpreter"}]), "tools[0].type"),
    ("tool-without-function", chat(tools=[{"type": "function"}]), "tools[0].function"),
    ("tool-name-with-space", chat(tools=[function_tool("get weather")]), "tools[0].function.name"),
    ("tool-name-too-long", chat(tools=[function_tool("x" * 65)]), "tools[0].function.name"),
    ("tool-declared-twice", chat(tools=[function_tool("w"), function_tool("w")]), "tools[1].function.name"),
    (
        "tool-parameters-string",
        chat(tools=[{"type": "function", "function": {"name": "w", "parameters": "{}"}}]),
        "tools[0].function.parameters",
    ),
    ("tool-choice-unknown-word", chat(tools=[function_tool("w")], tool_choice="any"), "tool_choice"),
    ("tool-choice-required-without-tools", chat(tool_choice="required"), "tool_choice"),
    (
        "tool-choice-names-undeclared-function",
        chat(tools=[function_tool("w")], tool_choice={"type": "function", "function": {"name": "x"}}),
        "tool_choice",
    ),
    (
        "tool-choice-malformed-object",
        chat(tools=[function_tool("w")], tool_choice={"type": "function"}),
        "tool_choice",
    ),
    ("parallel-tool-calls-string", chat(parallel_tool_calls="no"), "parallel_tool_calls"),
    ("response-format-unknown", chat(response_format={"type": "xml"}), "response_format.type"),
    ("json-schema-missing", chat(response_format={"type": "json_schema"}), "response_format.json_schema"),
    (
        "json-schema-bad-name",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "my schema", "schema": {}}}),
        "response_format.json_schema.name",
    ),
    (
        "json-schema-not-an-object",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": "x"}}),
        "response_format.json_schema.schema",
    ),
    ("service-tier-an-array", chat(service_tier=["flex"]), "service_tier"),
    ("service-tier-an-object", chat(service_tier={"tier": "flex"}), "service_tier"),
    ("legacy-functions", chat(functions=[{"name": "w"}]), "functions"),
    ("legacy-function-call", chat(function_call="auto"), "function_call"),
]


@pytest.mark.parametrize(("body", "param"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_client_mistakes_are_400s_naming_the_field(body, param):
    error = expect_400(parse_chat_request, body, param=param)
    assert error.message.endswith(".")
    if param:
        assert param.split(".")[-1].split("[")[0] in error.message


def test_the_audio_rejection_says_what_to_send_instead():
    error = expect_400(
        parse_chat_request, chat(user([{"type": "input_audio"}])), param="messages[0].content[0]"
    )
    assert "transcript" in error.message


def test_a_tool_choice_naming_an_undeclared_function_says_which():
    body = chat(tools=[function_tool("w")], tool_choice={"type": "function", "function": {"name": "x"}})
    assert "'x'" in expect_400(parse_chat_request, body, param="tool_choice").message


@pytest.mark.parametrize(
    ("extra", "attribute", "expected"),
    [
        ({}, "stream", False),
        ({"stream": True}, "stream", True),
        ({"stream": True, "stream_options": {"include_usage": True}}, "include_usage", True),
        ({"n": 3}, "n", 3),
        ({"max_tokens": 100}, "max_tokens", 100),
        ({"max_tokens": 100.0}, "max_tokens", 100),
        ({"max_tokens": 100, "max_completion_tokens": 50}, "max_tokens", 50),
        ({"max_completion_tokens": 70}, "max_tokens", 70),
        ({"temperature": 1.7}, "temperature", 1.7),
        ({"temperature": None}, "temperature", None),
        ({"stop": "END"}, "stop", ["END"]),
        ({"stop": ["a", "b", "c", "d"]}, "stop", ["a", "b", "c", "d"]),
        ({"stop": ""}, "stop", None),
        ({"stop": []}, "stop", None),
        ({"user": "u-1"}, "user", "u-1"),
        ({"metadata": {"session_id": "s", "tags": ["a"]}}, "metadata", {"session_id": "s", "tags": ["a"]}),
        ({"top_k": 40}, "top_k", 40),
        (
            {"tools": [function_tool("w")], "tool_choice": "none"},
            "tool_choice",
            ToolChoice(ToolChoiceMode.NONE),
        ),
        (
            {"tools": [function_tool("w")], "tool_choice": {"type": "function", "function": {"name": "w"}}},
            "tool_choice",
            ToolChoice(ToolChoiceMode.TOOL, "w"),
        ),
        ({"response_format": {"type": "json_object"}}, "response_format", "json_object"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}},
            "json_schema_name",
            "json_response",
        ),
        ({"parallel_tool_calls": False}, "parallel_tool_calls", False),
        ({"some_future_option": {"x": 1}, "extra_body": 1}, "model", "claude"),
    ],
    ids=[
        "stream-defaults-to-false",
        "stream-true",
        "include-usage",
        "n",
        "max-tokens",
        "integral-float-max-tokens",
        "max-completion-tokens-wins",
        "max-completion-tokens-alone",
        "openai-temperature-up-to-2-is-parsed",
        "null-means-unset",
        "stop-string-becomes-list",
        "four-stop-sequences",
        "empty-stop-string-ignored",
        "empty-stop-list-ignored",
        "user",
        "metadata-any-values",
        "top-k",
        "tool-choice-none",
        "tool-choice-named",
        "json-object",
        "json-schema-default-name",
        "parallel-tool-calls",
        "unknown-top-level-keys-ignored",
    ],
)
def test_valid_values_are_parsed(extra, attribute, expected):
    request = parse_chat_request(chat(**extra))
    assert getattr(request, attribute) == expected


def test_the_raw_body_stays_available():
    body = chat(user("Hi"), extra_field=1)
    assert parse_chat_request(body).body is body


@pytest.mark.parametrize(
    "message",
    [
        {"role": "system", "content": "Be terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Be terse."}]},
        user([{"type": "text", "text": "Hi"}, {"type": "image_url", "image_url": {"url": data_url(PNG)}}]),
        user([{"type": "image_url", "image_url": data_url(JPEG)}]),
        assistant(None, tool_calls=[call("call_1", "w", '{"a": 1}')]),
        assistant([{"type": "refusal", "refusal": "No."}]),
        assistant("", function_call={"name": "w", "arguments": "{}"}),
        tool("call_1", [{"type": "text", "text": "21C"}]),
        {"role": "function", "name": "w", "content": "21C"},
    ],
    ids=[
        "system",
        "developer",
        "user-text-and-image",
        "image-url-as-plain-string",
        "assistant-tool-calls",
        "assistant-refusal-part",
        "assistant-legacy-function-call",
        "tool-with-text-parts",
        "legacy-function-role",
    ],
)
def test_every_openai_message_shape_is_accepted(message):
    request = parse_chat_request(chat(user("a"), message))
    assert len(request.parsed_messages) == 2
    assert request.messages[1] is message  # observability records the client's own messages


def test_remote_image_urls_lists_each_http_url_once_in_order():
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    other = {"type": "image_url", "image_url": {"url": "http://example.com/b.jpg"}}
    inline = {"type": "image_url", "image_url": {"url": data_url(PNG)}}
    request = parse_chat_request(chat(user([image, inline, other]), assistant("ok"), user([image])))
    assert remote_image_urls(request) == ["https://example.com/a.png", "http://example.com/b.jpg"]
