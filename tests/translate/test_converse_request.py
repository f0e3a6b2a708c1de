"""to_converse: the Converse body each model gets, and the 400s for what a model cannot take.

Every body produced here is also checked against botocore's Converse input shape, so a field name or
nesting mistake fails even where the test only looks at one part of the body.
"""

from __future__ import annotations

import base64

import botocore.session
import orjson
import pytest
from botocore.validate import ParamValidator

from bedrock_proxy.bedrock.translate import ConverseCall, to_converse
from bedrock_proxy.openai.chat_request import parse_chat_request

from .helpers import (
    CLAUDE,
    GIF,
    JPEG,
    LLAMA,
    MISTRAL_7B,
    MISTRAL_LARGE,
    PNG,
    TITAN,
    WEBP,
    assistant,
    call,
    chat,
    data_url,
    expect_400,
    function_tool,
    tool,
    user,
)

_CONVERSE_INPUT = (
    botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse")
)
WEATHER = function_tool("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}})
NAMED_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def convert(
    body: dict,
    model_id: str = CLAUDE,
    *,
    defaults: dict | None = None,
    drop_params: bool = False,
    images: dict | None = None,
) -> ConverseCall:
    result = to_converse(
        parse_chat_request(body),
        model_id=model_id,
        defaults=defaults or {},
        drop_params=drop_params,
        images=images or {},
    )
    report = ParamValidator().validate({"modelId": model_id, **result.body}, _CONVERSE_INPUT.input_shape)
    assert not report.has_errors(), report.generate_report()
    assert orjson.loads(orjson.dumps(result.body)) == result.body
    return result


def attempt(body: dict, model_id: str = CLAUDE, **kwargs) -> None:
    to_converse(
        parse_chat_request(body),
        model_id=model_id,
        defaults=kwargs.get("defaults", {}),
        drop_params=kwargs.get("drop_params", False),
        images=kwargs.get("images", {}),
    )


def text(value: str) -> dict:
    return {"text": value}


def turn(role: str, *blocks: dict) -> dict:
    return {"role": role, "content": list(blocks)}


# ------------------------------------------------------------------------------------------------------
# Messages

MESSAGE_CASES = [
    (
        "system-and-developer-become-system-blocks",
        chat(
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": "Use French."},
            user("Hi"),
        ),
        CLAUDE,
        [text("Be terse."), text("Use French.")],
        [turn("user", text("Hi"))],
    ),
    (
        "a-mid-conversation-system-message-joins-the-system-blocks",
        chat(user("Hi"), assistant("Hello"), {"role": "system", "content": "Now be formal."}, user("Bye")),
        CLAUDE,
        [text("Now be formal.")],
        [turn("user", text("Hi")), turn("assistant", text("Hello")), turn("user", text("Bye"))],
    ),
    (
        "titan-gets-the-system-prompt-at-the-top-of-the-first-user-turn",
        chat({"role": "system", "content": "Be terse."}, user("Hi"), assistant("Hello"), user("More")),
        TITAN,
        None,
        [turn("user", text("Be terse.\n\nHi")), turn("assistant", text("Hello")), turn("user", text("More"))],
    ),
    (
        "mistral-7b-opens-with-the-system-prompt-when-the-assistant-speaks-first",
        chat({"role": "system", "content": "Be terse."}, assistant("Hello"), user("Hi")),
        MISTRAL_7B,
        None,
        [turn("user", text("Be terse.")), turn("assistant", text("Hello")), turn("user", text("Hi"))],
    ),
    (
        "consecutive-user-messages-merge",
        chat(user("one"), user([{"type": "text", "text": "two"}, {"type": "text", "text": "three"}])),
        CLAUDE,
        None,
        [turn("user", text("one"), text("two"), text("three"))],
    ),
    (
        "consecutive-assistant-messages-merge",
        chat(user("q"), assistant("a"), assistant("b")),
        CLAUDE,
        None,
        [turn("user", text("q")), turn("assistant", text("a"), text("b"))],
    ),
    (
        "a-conversation-opening-with-the-assistant-gets-a-minimal-user-turn",
        chat({"role": "system", "content": "S"}, assistant("How can I help?"), user("Hi")),
        CLAUDE,
        [text("S")],
        [turn("user", text(".")), turn("assistant", text("How can I help?")), turn("user", text("Hi"))],
    ),
    (
        "empty-and-blank-messages-are-dropped-and-neighbours-merge",
        chat(user("a"), assistant(""), user("  "), user("b"), assistant(None)),
        CLAUDE,
        None,
        [turn("user", text("a"), text("b"))],
    ),
    (
        "blank-text-parts-are-dropped",
        chat(user([{"type": "text", "text": ""}, {"type": "text", "text": "x"}])),
        CLAUDE,
        None,
        [turn("user", text("x"))],
    ),
    (
        "only-a-system-message-becomes-the-user-turn",
        chat({"role": "system", "content": "Write a haiku."}),
        CLAUDE,
        None,
        [turn("user", text("Write a haiku."))],
    ),
    (
        "a-final-assistant-prefill-loses-its-trailing-whitespace",
        chat(user("Count"), assistant("1, 2, ")),
        CLAUDE,
        None,
        [turn("user", text("Count")), turn("assistant", text("1, 2,"))],
    ),
    (
        "an-assistant-refusal-part-is-kept-as-text",
        chat(user("q"), assistant([{"type": "refusal", "refusal": "I can't."}]), user("ok")),
        CLAUDE,
        None,
        [turn("user", text("q")), turn("assistant", text("I can't.")), turn("user", text("ok"))],
    ),
]


@pytest.mark.parametrize(
    ("body", "model_id", "system", "messages"),
    [c[1:] for c in MESSAGE_CASES],
    ids=[c[0] for c in MESSAGE_CASES],
)
def test_messages_become_converse_turns(body, model_id, system, messages):
    result = convert(body, model_id)
    assert result.body.get("system") == system
    assert result.body["messages"] == messages


def test_a_request_with_no_text_at_all_is_a_400():
    expect_400(attempt, chat(user(""), assistant("  ")), param="messages")


# ------------------------------------------------------------------------------------------------------
# Tool calls and results

TOOL_TURN_CASES = [
    (
        "tool-calls-become-tool-use-and-json-object-results-become-json",
        [
            user("Weather in Paris?"),
            assistant(None, tool_calls=[call("tooluse_1", "get_weather", '{"city": "Paris"}')]),
            tool("tooluse_1", '{"t": 21}'),
        ],
        [
            turn("user", text("Weather in Paris?")),
            turn(
                "assistant",
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            ),
            turn(
                "user",
                {
                    "toolResult": {
                        "toolUseId": "tooluse_1",
                        "content": [{"json": {"t": 21}}],
                        "status": "success",
                    }
                },
            ),
        ],
    ),
    (
        "non-object-results-stay-text-and-parallel-results-share-one-user-turn",
        [
            user("q"),
            assistant("Checking.", tool_calls=[call("c1", "a"), call("c2", "b", "")]),
            tool("c1", "[1, 2]"),
            tool("c2", [{"type": "text", "text": "{not json"}]),
            user("thanks"),
        ],
        [
            turn("user", text("q")),
            turn(
                "assistant",
                text("Checking."),
                {"toolUse": {"toolUseId": "c1", "name": "a", "input": {}}},
                {"toolUse": {"toolUseId": "c2", "name": "b", "input": {}}},
            ),
            turn(
                "user",
                {"toolResult": {"toolUseId": "c1", "content": [text("[1, 2]")], "status": "success"}},
                {"toolResult": {"toolUseId": "c2", "content": [text("{not json")], "status": "success"}},
                text("thanks"),
            ),
        ],
    ),
    (
        "tool-results-move-before-text-in-a-merged-user-turn",
        [user("q"), assistant(None, tool_calls=[call("c1", "a")]), user("also this"), tool("c1", "")],
        [
            turn("user", text("q")),
            turn("assistant", {"toolUse": {"toolUseId": "c1", "name": "a", "input": {}}}),
            turn(
                "user",
                {"toolResult": {"toolUseId": "c1", "content": [text("(no output)")], "status": "success"}},
                text("also this"),
            ),
        ],
    ),
    (
        "tool-call-ids-outside-bedrocks-alphabet-are-rewritten-the-same-way-on-both-sides",
        [user("q"), assistant(None, tool_calls=[call("call/1 é", "a")]), tool("call/1 é", "ok")],
        [
            turn("user", text("q")),
            turn("assistant", {"toolUse": {"toolUseId": "call_1__", "name": "a", "input": {}}}),
            turn(
                "user",
                {"toolResult": {"toolUseId": "call_1__", "content": [text("ok")], "status": "success"}},
            ),
        ],
    ),
    (
        "legacy-function-call-and-function-role-are-paired",
        [
            user("q"),
            assistant(None, function_call={"name": "a", "arguments": '{"x": 1}'}),
            {"role": "function", "name": "a", "content": "done"},
        ],
        [
            turn("user", text("q")),
            turn("assistant", {"toolUse": {"toolUseId": "call_fn_1", "name": "a", "input": {"x": 1}}}),
            turn(
                "user",
                {"toolResult": {"toolUseId": "call_fn_1", "content": [text("done")], "status": "success"}},
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("messages", "expected"), [c[1:] for c in TOOL_TURN_CASES], ids=[c[0] for c in TOOL_TURN_CASES]
)
def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks(messages, expected):
    assert (
        convert(chat(*messages, tools=[function_tool("a"), function_tool("b"), WEATHER])).body["messages"]
        == expected
    )


TOOL_CONFIG_CASES = [
    ("no-choice-sends-tools-only", {"tools": [WEATHER]}, None),
    ("auto", {"tools": [WEATHER], "tool_choice": "auto"}, {"auto": {}}),
    ("required-becomes-any", {"tools": [WEATHER], "tool_choice": "required"}, {"any": {}}),
    (
        "named-becomes-tool",
        {"tools": [WEATHER], "tool_choice": NAMED_WEATHER},
        {"tool": {"name": "get_weather"}},
    ),
]


@pytest.mark.parametrize(
    ("extra", "choice"), [c[1:] for c in TOOL_CONFIG_CASES], ids=[c[0] for c in TOOL_CONFIG_CASES]
)
def test_tools_and_tool_choice_become_tool_config(extra, choice):
    config = convert(chat(user("Weather?"), **extra)).body["toolConfig"]
    spec = {
        "name": "get_weather",
        "description": "The get_weather tool",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    assert config["tools"] == [{"toolSpec": spec}]
    assert config.get("toolChoice") == choice


def test_tool_choice_none_omits_the_tool_config():
    assert "toolConfig" not in convert(chat(user("Hi"), tools=[WEATHER], tool_choice="none")).body


def test_tool_choice_none_keeps_the_tools_when_the_history_has_tool_blocks():
    body = chat(
        user("q"), assistant(None, tool_calls=[call("c1", "get_weather")]), tool("c1", "sunny"),
        tools=[WEATHER], tool_choice="none",
    )  # fmt: skip
    config = convert(body).body["toolConfig"]
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather"]
    assert "toolChoice" not in config


def test_tool_history_without_declared_tools_gets_minimal_specs():
    body = chat(
        user("q"), assistant(None, tool_calls=[call("c1", "lookup"), call("c2", "lookup")]), tool("c1", "x")
    )
    config = convert(body).body["toolConfig"]
    assert config == {
        "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]
    }


def test_a_tool_without_parameters_gets_an_empty_object_schema():
    spec = convert(chat(user("q"), tools=[function_tool("now")])).body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["inputSchema"] == {"json": {"type": "object", "properties": {}}}


MODEL_REFUSALS = [
    ("tools-to-titan", chat(user("q"), tools=[WEATHER]), TITAN, {}, "tools"),
    ("tools-to-mistral-7b", chat(user("q"), tools=[WEATHER]), MISTRAL_7B, {}, "tools"),
    (
        "tool-results-to-titan",
        chat(user("q"), assistant("a"), tool("c1", "x")),
        TITAN,
        {},
        "messages[2]",
    ),
    (
        "tool-calls-to-titan",
        chat(user("q"), assistant(None, tool_calls=[call("c1", "a")])),
        TITAN,
        {},
        "messages[1].tool_calls",
    ),
    (
        "required-tool-choice-to-llama",
        chat(user("q"), tools=[WEATHER], tool_choice="required"),
        LLAMA,
        {},
        "tool_choice",
    ),
    (
        "named-tool-choice-to-llama",
        chat(user("q"), tools=[WEATHER], tool_choice=NAMED_WEATHER),
        LLAMA,
        {},
        "tool_choice",
    ),
    (
        "image-to-titan",
        chat(user([{"type": "image_url", "image_url": {"url": data_url(PNG)}}])),
        TITAN,
        {},
        "messages[0].content[0].image_url",
    ),
    (
        "image-to-llama-3-1",
        chat(
            user("a"),
            assistant("b"),
            user([{"type": "text", "text": "x"}, {"type": "image_url", "image_url": data_url(PNG)}]),
        ),
        LLAMA,
        {},
        "messages[2].content[1].image_url",
    ),
    (
        "remote-image-that-was-not-fetched",
        chat(user([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}])),
        CLAUDE,
        {},
        "messages[0].content[0].image_url",
    ),
    ("temperature-above-1", chat(temperature=1.5), CLAUDE, {}, "temperature"),
    ("default-temperature-above-1", chat(), CLAUDE, {"defaults": {"temperature": 1.2}}, "temperature"),
    ("top-k-to-llama", chat(top_k=40), LLAMA, {}, "top_k"),
    ("top-k-to-titan", chat(top_k=40), TITAN, {}, "top_k"),
    ("presence-penalty", chat(presence_penalty=0.5), CLAUDE, {}, "presence_penalty"),
    ("frequency-penalty", chat(frequency_penalty=-1), CLAUDE, {}, "frequency_penalty"),
    ("logit-bias", chat(logit_bias={"50256": -100}), CLAUDE, {}, "logit_bias"),
    ("logprobs", chat(logprobs=True), CLAUDE, {}, "logprobs"),
    ("top-logprobs", chat(top_logprobs=3), CLAUDE, {}, "top_logprobs"),
    ("seed", chat(seed=42), CLAUDE, {}, "seed"),
    (
        "json-schema-named-like-a-tool",
        chat(
            tools=[WEATHER],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "get_weather", "schema": {"type": "object"}},
            },
        ),
        CLAUDE,
        {},
        "response_format.json_schema.name",
    ),
]


@pytest.mark.parametrize(
    ("body", "model_id", "kwargs", "param"),
    [c[1:] for c in MODEL_REFUSALS],
    ids=[c[0] for c in MODEL_REFUSALS],
)
def test_what_a_model_cannot_take_is_a_400_naming_the_param(body, model_id, kwargs, param):
    error = expect_400(attempt, body, model_id, param=param, **kwargs)
    assert error.message.endswith(".")


@pytest.mark.parametrize(
    ("body", "model_id", "param"),
    [
        (chat(user("q"), tools=[WEATHER]), TITAN, "tools"),
        (
            chat(user([{"type": "image_url", "image_url": data_url(PNG)}])),
            LLAMA,
            "messages[0].content[0].image_url",
        ),
        (chat(user("q"), tools=[WEATHER], tool_choice="required"), LLAMA, "tool_choice"),
    ],
    ids=["tools", "images", "forced-tool-choice"],
)
def test_model_refusals_name_the_model(body, model_id, param):
    assert model_id in expect_400(attempt, body, model_id, param=param).message


@pytest.mark.parametrize(
    "param", ["presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "seed", "temperature"]
)
def test_unsupported_param_errors_say_how_to_fix_them(param):
    values = {
        "presence_penalty": 1,
        "frequency_penalty": 1,
        "logit_bias": {"1": 1},
        "logprobs": True,
        "seed": 1,
    }
    body = chat(**{param: values.get(param, 1.5)})
    message = expect_400(attempt, body, param=param).message
    assert "drop_params: true" in message


def test_neutral_values_of_unsupported_params_pass_because_sdks_send_them_by_default():
    body = chat(presence_penalty=0, frequency_penalty=0.0, logit_bias={}, logprobs=False, n=1, seed=None)
    assert convert(body).body["messages"] == [turn("user", text("Hi"))]


def test_drop_params_drops_unsupported_params_and_clamps_temperature():
    body = chat(
        temperature=1.8, presence_penalty=1, frequency_penalty=1, logit_bias={"1": 2}, logprobs=True, seed=7
    )
    result = convert(body, drop_params=True)
    assert result.body["inferenceConfig"] == {"temperature": 1}
    assert set(result.body) == {"messages", "inferenceConfig"}
    assert result.dropped == (
        "temperature",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "seed",
    )


def test_drop_params_drops_top_k_for_a_model_without_it():
    result = convert(chat(top_k=5), LLAMA, drop_params=True)
    assert "additionalModelRequestFields" not in result.body and result.dropped == ("top_k",)


def test_drop_params_falls_back_to_auto_when_a_model_cannot_be_forced():
    body = chat(user("q"), tools=[WEATHER], tool_choice="required")
    result = convert(body, LLAMA, drop_params=True)
    assert result.body["toolConfig"]["toolChoice"] == {"auto": {}} and result.dropped == ("tool_choice",)


def test_nothing_is_reported_dropped_when_the_model_takes_everything():
    assert convert(chat(temperature=0.5, top_k=5), drop_params=True).dropped == ()


# ------------------------------------------------------------------------------------------------------
# Images


@pytest.mark.parametrize(
    ("raw", "declared", "expected"),
    [
        (PNG, "image/png", "png"),
        (JPEG, "image/jpeg", "jpeg"),
        (JPEG, "image/jpg", "jpeg"),
        (GIF, "image/gif", "gif"),
        (WEBP, "image/webp", "webp"),
        (PNG, "image/jpeg", "png"),
    ],
    ids=["png", "jpeg", "jpg-alias", "gif", "webp", "mislabelled-png-keeps-its-real-format"],
)
def test_data_url_images_become_image_blocks(raw, declared, expected):
    url = data_url(raw, declared)
    blocks = convert(
        chat(
            user([{"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": url}}])
        )
    )
    image = blocks.body["messages"][0]["content"][1]
    assert image == {"image": {"format": expected, "source": {"bytes": base64.b64encode(raw).decode()}}}


def test_fetched_remote_images_are_sent_as_base64_bytes():
    url = "https://example.com/cat"
    body = chat(user([{"type": "image_url", "image_url": {"url": url}}]))
    result = convert(body, images={url: ("gif", GIF)})  # (format, bytes), as ImageFetcher returns them
    assert result.body["messages"][0]["content"] == [
        {"image": {"format": "gif", "source": {"bytes": base64.b64encode(GIF).decode()}}}
    ]


# ------------------------------------------------------------------------------------------------------
# Inference parameters

INFERENCE_CASES = [
    ("max-tokens", chat(max_tokens=100), {}, {"maxTokens": 100}, None),
    (
        "max-completion-tokens-wins",
        chat(max_tokens=100, max_completion_tokens=50),
        {},
        {"maxTokens": 50},
        None,
    ),
    (
        "deployment-defaults-apply",
        chat(),
        {"max_tokens": 4096, "temperature": 0.7},
        {"maxTokens": 4096, "temperature": 0.7},
        None,
    ),
    (
        "request-values-win-over-defaults",
        chat(max_tokens=10, temperature=0.2),
        {"max_tokens": 4096, "temperature": 0.7},
        {"maxTokens": 10, "temperature": 0.2},
        None,
    ),
    ("temperature-and-top-p", chat(temperature=0, top_p=0.9), {}, {"temperature": 0, "topP": 0.9}, None),
    ("stop-string", chat(stop="END"), {}, {"stopSequences": ["END"]}, None),
    ("stop-list", chat(stop=["A", "B"]), {}, {"stopSequences": ["A", "B"]}, None),
    ("default-stop", chat(), {"stop": "###"}, {"stopSequences": ["###"]}, None),
    ("top-k-for-claude", chat(top_k=40), {}, None, {"top_k": 40}),
    ("default-top-k", chat(), {"top_k": 10}, None, {"top_k": 10}),
]


@pytest.mark.parametrize(
    ("body", "defaults", "inference", "additional"),
    [c[1:] for c in INFERENCE_CASES],
    ids=[c[0] for c in INFERENCE_CASES],
)
def test_sampling_parameters_become_inference_config(body, defaults, inference, additional):
    result = convert(body, defaults=defaults)
    assert result.body.get("inferenceConfig") == inference
    assert result.body.get("additionalModelRequestFields") == additional


def test_top_k_goes_to_mistral_as_an_additional_field():
    assert convert(chat(top_k=5), MISTRAL_LARGE).body["additionalModelRequestFields"] == {"top_k": 5}


def test_params_report_what_was_actually_sent_with_openai_names():
    body = chat(
        user("q"),
        max_completion_tokens=64,
        temperature=1.5,
        stop="X",
        top_k=3,
        tools=[WEATHER],
        tool_choice="auto",
    )
    params = convert(body, defaults={"top_p": 0.8}, drop_params=True).params
    assert params == {
        "max_tokens": 64,
        "temperature": 1,
        "top_p": 0.8,
        "stop": ["X"],
        "top_k": 3,
        "tool_choice": "auto",
    }


def test_parallel_tool_calls_is_accepted_and_not_forwarded():
    body = convert(chat(user("q"), tools=[WEATHER], parallel_tool_calls=False)).body
    assert set(body) == {"messages", "toolConfig"}


# ------------------------------------------------------------------------------------------------------
# response_format

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": True}}


def test_json_schema_on_claude_forces_a_tool_named_after_the_schema():
    result = convert(chat(user("Judge"), response_format=JSON_SCHEMA))
    assert result.json_tool == "verdict"
    config = result.body["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "verdict"}}
    assert config["tools"][0]["toolSpec"]["name"] == "verdict"
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": SCHEMA}


def test_json_object_on_claude_forces_a_permissive_object_tool():
    result = convert(chat(user("Give JSON"), response_format={"type": "json_object"}))
    assert result.json_tool == "json_object"
    assert result.body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}
    assert result.body["toolConfig"]["toolChoice"] == {"tool": {"name": "json_object"}}


def test_json_schema_with_client_tools_lets_the_model_pick_a_tool_or_the_answer():
    result = convert(chat(user("q"), tools=[WEATHER], response_format=JSON_SCHEMA))
    names = [t["toolSpec"]["name"] for t in result.body["toolConfig"]["tools"]]
    assert names == ["get_weather", "verdict"]
    assert result.body["toolConfig"]["toolChoice"] == {"any": {}}


@pytest.mark.parametrize(
    ("model_id", "response_format", "where"),
    [
        (LLAMA, JSON_SCHEMA, "system"),
        (TITAN, {"type": "json_object"}, "first-user-turn"),
        (MISTRAL_7B, JSON_SCHEMA, "first-user-turn"),
        (
            CLAUDE,
            {"type": "json_schema", "json_schema": {"name": "list", "schema": {"type": "array"}}},
            "system",
        ),
    ],
    ids=["llama-cannot-be-forced", "titan-has-no-tools", "mistral-7b-has-no-system", "non-object-schema"],
)
def test_json_mode_falls_back_to_an_instruction_where_no_tool_can_be_forced(model_id, response_format, where):
    result = convert(chat(user("Judge"), response_format=response_format), model_id)
    assert result.json_tool is None
    assert "toolConfig" not in result.body
    if where == "system":
        instruction = result.body["system"][-1]["text"]
    else:
        instruction = result.body["messages"][0]["content"][0]["text"]
        assert instruction.endswith("\n\nJudge")
    assert "JSON object" in instruction
    if response_format["type"] == "json_schema":
        assert orjson.dumps(response_format["json_schema"]["schema"]).decode() in instruction


def test_response_format_text_changes_nothing():
    assert convert(chat(response_format={"type": "text"})).body == {"messages": [turn("user", text("Hi"))]}


# ------------------------------------------------------------------------------------------------------
# Streaming and caching


@pytest.mark.parametrize(
    ("model_id", "extra", "buffered"),
    [
        (LLAMA, {"tools": [WEATHER]}, True),
        (MISTRAL_LARGE, {"response_format": JSON_SCHEMA}, True),
        (CLAUDE, {"tools": [WEATHER]}, False),
        (LLAMA, {}, False),
    ],
    ids=["llama-tools", "mistral-large-forced-json-tool", "claude-streams-tools", "llama-without-tools"],
)
def test_streams_with_tools_on_models_that_cannot_stream_them_are_marked_buffered(model_id, extra, buffered):
    assert convert(chat(user("q"), stream=True, **extra), model_id).buffered_stream is buffered


def test_cache_control_adds_cache_points_after_the_marked_content():
    body = chat(
        {
            "role": "system",
            "content": [{"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}],
        },
        user(
            [
                {"type": "text", "text": "Long document", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Q"},
            ]
        ),
        tools=[{**WEATHER, "cache_control": {"type": "ephemeral"}}],
    )
    result = convert(body).body
    point = {"cachePoint": {"type": "default"}}
    assert result["system"] == [text("Long rules"), point]
    assert result["messages"][0]["content"] == [text("Long document"), point, text("Q")]
    assert result["toolConfig"]["tools"][1] == point


def test_tools_with_tool_choice_none_are_simply_not_sent_to_a_model_without_tools():
    assert "toolConfig" not in convert(chat(user("q"), tools=[WEATHER], tool_choice="none"), TITAN).body


def test_one_request_converts_for_a_fallback_model_after_another_without_side_effects():
    body = chat(
        {"role": "system", "content": "Be terse."},
        user("Give JSON"),
        response_format={"type": "json_object"},
        temperature=0.3,
    )
    request = parse_chat_request(body)
    kwargs = {"defaults": {}, "drop_params": False, "images": {}}
    first = to_converse(request, model_id=CLAUDE, **kwargs)
    fallback = to_converse(request, model_id=TITAN, **kwargs)
    again = to_converse(request, model_id=CLAUDE, **kwargs)
    assert first.body == again.body and first.json_tool == again.json_tool == "json_object"
    assert first.body["system"] == [text("Be terse.")]
    assert "system" not in fallback.body and fallback.json_tool is None
    assert fallback.body["messages"][0]["content"][0]["text"].startswith(
        "Be terse.\n\nAnswer with exactly one JSON"
    )
