"""Chat completions end to end: every parameter of the gateway issue, through the openai SDK and LangChain,
against the gateway and the emulator as real processes."""

from __future__ import annotations

import json
import time

import openai
import pytest
from openai import OpenAI

from tests.conftest import CONFIG_MODELS
from tests.gateway.conftest import call, emulator_stats
from tests.gateway.images import png_data_url
from tests.support.seed import WEATHER_TOOL

CHAT_MODELS = [name for name in CONFIG_MODELS if "embed" not in name]
TOOL_MODELS = ["claude-3-5-sonnet", "claude-3-haiku", "llama3-1-70b", "mistral-large"]
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current local hour of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/chat/completions"])
def test_both_chat_paths_answer_in_openai_shape(gateway_url: str, path: str) -> None:
    before = int(time.time())
    status, _, body = call(
        f"{gateway_url}{path}",
        {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Salut"}]},
    )
    assert status == 200, body
    assert set(body) >= {"id", "object", "created", "model", "choices", "usage"}
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert before - 5 <= body["created"] <= time.time() + 5
    assert body["model"] == "claude-3-haiku"
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and "Salut" in choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_every_seed_chat_model_takes_a_conversation_with_every_role(client: OpenAI, model: str) -> None:
    # system and developer (several), two user messages in a row, an assistant turn, a trailing user turn:
    # Bedrock wants system apart (or folded in for models without one) and strictly alternating turns.
    response = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Tu es un assistant concis."},
            {"role": "developer", "content": "Réponds en français."},
            {"role": "user", "content": "Bonjour"},
            {"role": "user", "content": [{"type": "text", "text": "Comment vas-tu ?"}]},
            {"role": "assistant", "content": "Très bien, merci."},
            {"role": "user", "content": "Raconte une blague courte"},
        ],
        max_tokens=64,
    )
    assert response.choices[0].message.content.endswith("Raconte une blague courte")
    assert response.choices[0].finish_reason == "stop"


def test_an_assistant_prefill_first_conversation_is_accepted(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[
            {"role": "assistant", "content": "Bonjour, que puis-je faire ?"},
            {"role": "user", "content": "Une idée de dîner"},
        ],
    )
    assert response.choices[0].message.content


@pytest.mark.parametrize("model", ["claude-3-5-sonnet", "claude-3-haiku"])
def test_a_data_url_image_reaches_a_vision_model(client: OpenAI, model: str) -> None:
    response = client.chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Décris cette image"},
                    {"type": "image_url", "image_url": {"url": png_data_url()}},
                ],
            }
        ],
    )
    assert response.choices[0].message.content
    assert response.usage.prompt_tokens > 1000, "the emulator counts 1,600 tokens for an image"


@pytest.mark.parametrize("model", ["titan-text-express", "mistral-7b", "llama3-1-8b"])
def test_an_image_to_a_model_without_vision_is_a_400_naming_the_part(client: OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model,
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": png_data_url()}}]}
            ],
        )
    error = caught.value.body
    assert "does not accept images" in error["message"]
    assert error["param"] == "messages[0].content[0].image_url"


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_a_token_limit_cuts_the_answer_with_finish_reason_length(client: OpenAI, limit: str) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": "un deux trois quatre cinq six sept huit neuf dix onze douze"}],
        **{limit: 3},
    )
    assert response.choices[0].finish_reason == "length"
    assert 0 < response.usage.completion_tokens <= 3


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 0.0},
        {"temperature": 1.0},
        {"top_p": 0.5},
        {"temperature": 0.7, "top_p": 0.9},
        {"extra_body": {"top_k": 40}},
        {"user": "user-42"},
        {"metadata": {"session_id": "s-1", "environment": "test"}},
        {"presence_penalty": 0, "frequency_penalty": 0},
        {"parallel_tool_calls": False, "tools": [WEATHER_TOOL]},
    ],
    ids=lambda p: "+".join(sorted(p.get("extra_body", p))),
)
def test_sampling_and_bookkeeping_parameters_are_accepted(client: OpenAI, params: dict) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}], **params
    )
    assert response.choices[0].message.content


def test_a_stop_sequence_ends_the_answer_before_it(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": "alpha beta gamma delta epsilon"}],
        stop=["gamma"],
    )
    content = response.choices[0].message.content
    assert "beta" in content and "gamma" not in content and "delta" not in content
    assert response.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("model", "params", "param"),
    [
        ("claude-3-haiku", {"presence_penalty": 0.5}, "presence_penalty"),
        ("claude-3-haiku", {"frequency_penalty": -1.0}, "frequency_penalty"),
        ("claude-3-haiku", {"temperature": 1.5}, "temperature"),
        ("titan-text-express", {"extra_body": {"top_k": 10}}, "top_k"),
    ],
    ids=["presence_penalty", "frequency_penalty", "temperature-above-1", "top_k-on-titan"],
)
def test_parameters_bedrock_cannot_take_are_a_clear_400(
    client: OpenAI, model: str, params: dict, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Bonjour"}], **params
        )
    error = caught.value.body
    assert error["param"] == param
    assert "drop_params: true" in error["message"]


BARE_WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


@pytest.mark.parametrize(
    ("model", "params", "dropped"),
    [
        (
            "claude-3-haiku",
            {"presence_penalty": 0.5, "frequency_penalty": 0.5},
            "presence_penalty,frequency_penalty",
        ),
        ("claude-3-haiku", {"temperature": 1.5}, "temperature"),
        ("claude-3-haiku", {"seed": 7}, "seed"),
        ("llama3-1-8b", {"extra_body": {"top_k": 10}}, "top_k"),
        ("llama3-1-8b", {"tools": [BARE_WEATHER_TOOL], "tool_choice": "required"}, "tool_choice"),
    ],
    ids=["penalties", "temperature-above-1", "seed", "top_k-on-llama", "required-tool-on-llama"],
)
def test_drop_params_true_drops_what_bedrock_cannot_take_and_says_what_in_a_header(
    special_client: OpenAI, model: str, params: dict, dropped: str
) -> None:
    raw = special_client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Bonjour"}], **params
    )
    assert raw.headers["x-bedrock-proxy-dropped-params"] == dropped
    assert raw.parse().choices[0].message


def test_a_stream_names_its_dropped_params_too(special_client: OpenAI) -> None:
    with special_client.chat.completions.with_streaming_response.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}], seed=7, stream=True
    ) as response:
        assert response.headers["x-bedrock-proxy-dropped-params"] == "seed"
        assert list(response.iter_lines())


def test_nothing_dropped_means_no_dropped_params_header(special_client: OpenAI) -> None:
    raw = special_client.chat.completions.with_raw_response.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}], temperature=0.5
    )
    assert "x-bedrock-proxy-dropped-params" not in raw.headers


def test_n_runs_that_many_bedrock_calls_and_merges_them(client: OpenAI, emulator_url: str) -> None:
    before = emulator_stats(emulator_url)["by_operation"].get("Converse", 0)
    single = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Trois réponses"}]
    )
    response = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Trois réponses"}], n=3
    )
    assert emulator_stats(emulator_url)["by_operation"]["Converse"] - before == 4
    assert [choice.index for choice in response.choices] == [0, 1, 2]
    assert all(choice.message.content == single.choices[0].message.content for choice in response.choices)
    assert response.usage.completion_tokens == 3 * single.usage.completion_tokens
    assert response.usage.prompt_tokens == 3 * single.usage.prompt_tokens


# --- tools --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TOOL_MODELS)
def test_a_tool_capable_model_calls_the_tool_the_prompt_asks_for(client: OpenAI, model: str) -> None:
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Quelle est la météo à Paris ?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    (tool_call,) = response.choices[0].message.tool_calls
    assert tool_call.type == "function" and tool_call.id
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}
    assert response.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("none", None),
        ("required", "get_weather"),  # no tool matches the prompt: the model must still call one
        ({"type": "function", "function": {"name": "get_time"}}, "get_time"),
    ],
    ids=["none", "required", "named"],
)
def test_tool_choice_decides_whether_and_which_tool_is_called(
    client: OpenAI, tool_choice: object, expected: str | None
) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": "Raconte une blague sur Lyon"}],
        tools=[WEATHER_TOOL, CLOCK],
        tool_choice=tool_choice,
    )
    message = response.choices[0].message
    if expected is None:
        assert message.tool_calls is None and message.content
        assert response.choices[0].finish_reason == "stop"
    else:
        assert [c.function.name for c in message.tool_calls] == [expected]
        assert response.choices[0].finish_reason == "tool_calls"


def test_parallel_tool_calls_come_back_as_several_calls_with_distinct_ids(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "La météo et l'heure (hour) à Paris ?"}],
        tools=[WEATHER_TOOL, CLOCK],
    )
    calls = response.choices[0].message.tool_calls
    assert sorted(c.function.name for c in calls) == ["get_time", "get_weather"]
    assert len({c.id for c in calls}) == 2


@pytest.mark.parametrize("model", TOOL_MODELS)
def test_a_tool_result_is_answered_with_its_content(client: OpenAI, model: str) -> None:
    messages: list[dict] = [{"role": "user", "content": "Quelle est la météo à Paris ?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assistant = first.choices[0].message
    messages.append(assistant.model_dump(exclude_none=True))
    for tool_call in assistant.tool_calls:
        messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": "Ensoleillé, 24 degrés"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert "Ensoleillé, 24 degrés" in second.choices[0].message.content
    assert second.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("model", "params", "fragment"),
    [
        ("titan-text-express", {"tools": [WEATHER_TOOL]}, "does not support tool use"),
        ("mistral-7b", {"tools": [WEATHER_TOOL]}, "does not support tool use"),
        (
            "llama3-1-70b",
            {"tools": [WEATHER_TOOL], "tool_choice": "required"},
            "cannot be forced to call a tool",
        ),
        (
            "llama3-1-70b",
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            },
            "cannot be forced to call a tool",
        ),
    ],
    ids=["titan-tools", "mistral-7b-tools", "llama-required", "llama-named"],
)
def test_unsupported_tool_combinations_are_explained_per_model(
    client: OpenAI, model: str, params: dict, fragment: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Quelle est la météo à Paris ?"}], **params
        )
    error = caught.value.body
    assert fragment in error["message"] and CONFIG_MODELS[model] in error["message"]
    assert error["param"] in ("tools", "tool_choice")


# --- response_format ----------------------------------------------------------------------------------------


def test_json_object_response_format_answers_a_json_object(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": "Donne un objet JSON décrivant Paris"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(response.choices[0].message.content), dict)
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.tool_calls is None


def test_json_schema_response_format_answers_an_object_matching_the_schema(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[{"role": "user", "content": "Décris la ville de Lyon"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city_facts", "schema": schema}},
    )
    answer = json.loads(response.choices[0].message.content)
    assert isinstance(answer["city"], str) and isinstance(answer["population"], int)


# --- LangChain ----------------------------------------------------------------------------------------------


def test_langchain_binds_tools_and_streams(gateway_url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="claude-3-haiku", api_key="sk-1234", base_url=f"{gateway_url}/v1", max_retries=0, timeout=60
    )
    with_tools = llm.bind_tools([WEATHER_TOOL])
    message = with_tools.invoke("Quelle est la météo à Paris ?")
    assert message.tool_calls[0]["name"] == "get_weather"
    assert message.tool_calls[0]["args"] == {"city": "Paris"}
    pieces = [chunk.content for chunk in llm.stream("Écris une courte histoire")]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces).startswith("Emulated answer")


def test_cache_control_marks_are_accepted_and_usage_reports_cached_tokens(client: OpenAI) -> None:
    # LiteLLM's prompt-caching convention becomes Converse cache points; the emulator never reports a cache
    # hit, so this proves the request shape and the usage field, not a non-zero count.
    response = client.chat.completions.create(
        model="claude-3-5-sonnet",
        messages=[
            {
                "role": "system",
                "content": [{"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Long document", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Question"},
                ],
            },
        ],
        tools=[{**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}}],
    )
    assert response.choices[0].message.content.endswith("Question")
    assert response.usage.prompt_tokens_details.cached_tokens == 0
