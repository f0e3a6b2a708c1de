"""Tool use: the emulated model calls tools the prompt asks for, with arguments valid for their schema."""

from __future__ import annotations

import orjson
import pytest

from tests.emulator.conftest import HAIKU, user

WEATHER = {
    "name": "get_weather",
    "description": "Obtenir la météo d'une ville",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Nom de la ville"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "options": {
                    "type": "object",
                    "properties": {
                        "hourly": {"type": "boolean"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["hourly"],
                },
            },
            "required": ["city", "unit"],
        }
    },
}
STOCKS = {
    "name": "get_stock_price",
    "description": "Current stock price of a company",
    "inputSchema": {
        "json": {
            "type": "object",
            "properties": {"ticker": {"type": "string", "minLength": 1, "maxLength": 5}},
            "required": ["ticker"],
        }
    },
}


def tools(*specs: dict, choice: dict | None = None) -> dict:
    config: dict = {"tools": [{"toolSpec": spec} for spec in specs]}
    if choice is not None:
        config["toolChoice"] = choice
    return config


def tool_uses(response: dict) -> list[dict]:
    return [block["toolUse"] for block in response["output"]["message"]["content"] if "toolUse" in block]


def test_a_prompt_that_asks_for_a_tool_gets_a_tool_call_valid_for_its_schema(runtime):
    jsonschema = pytest.importorskip("jsonschema")
    response = runtime.converse(
        modelId=HAIKU,
        messages=user("Quelle est la météo à Paris dans 3 jours?"),
        toolConfig=tools(WEATHER, STOCKS),
    )
    assert response["stopReason"] == "tool_use"
    [call] = tool_uses(response)
    assert call["name"] == "get_weather"
    assert call["toolUseId"].startswith("tooluse_")
    jsonschema.validate(call["input"], WEATHER["inputSchema"]["json"])


def test_tool_arguments_take_names_and_numbers_from_the_prompt(runtime):
    response = runtime.converse(
        modelId=HAIKU, messages=user("Quelle est la météo à Paris dans 3 jours?"), toolConfig=tools(WEATHER)
    )
    arguments = tool_uses(response)[0]["input"]
    assert arguments["city"] == "Paris"
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert arguments["days"] == 3
    assert isinstance(arguments["options"]["hourly"], bool)


def test_a_prompt_unrelated_to_the_tools_gets_text_with_auto_choice(runtime):
    response = runtime.converse(modelId=HAIKU, messages=user("Tell me a joke"), toolConfig=tools(WEATHER))
    assert response["stopReason"] == "end_turn"
    assert not tool_uses(response)


def test_any_choice_forces_a_tool_call(runtime):
    response = runtime.converse(
        modelId=HAIKU, messages=user("Tell me a joke"), toolConfig=tools(WEATHER, choice={"any": {}})
    )
    assert [call["name"] for call in tool_uses(response)] == ["get_weather"]


def test_tool_choice_calls_the_named_tool(runtime):
    response = runtime.converse(
        modelId=HAIKU,
        messages=user("Quelle est la météo à Paris?"),
        toolConfig=tools(WEATHER, STOCKS, choice={"tool": {"name": "get_stock_price"}}),
    )
    [call] = tool_uses(response)
    assert call["name"] == "get_stock_price"
    assert 1 <= len(call["input"]["ticker"]) <= 5


def test_several_matching_tools_give_parallel_calls(runtime):
    response = runtime.converse(
        modelId=HAIKU,
        messages=user("What is the météo in Paris and the stock price of Amazon?"),
        toolConfig=tools(WEATHER, STOCKS),
    )
    calls = tool_uses(response)
    assert [call["name"] for call in calls] == ["get_weather", "get_stock_price"]
    assert len({call["toolUseId"] for call in calls}) == 2


def test_after_a_tool_result_the_answer_mentions_the_result(runtime):
    messages = [
        *user("Quelle est la météo à Paris?"),
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temperature": 21}}]}}
            ],
        },
    ]
    response = runtime.converse(modelId=HAIKU, messages=messages, toolConfig=tools(WEATHER))
    assert response["stopReason"] == "end_turn"
    assert "21" in response["output"]["message"]["content"][0]["text"]


def test_streamed_tool_arguments_arrive_split_across_several_deltas(runtime):
    response = runtime.converse_stream(
        modelId=HAIKU, messages=user("Quelle est la météo à Paris?"), toolConfig=tools(WEATHER)
    )
    events = list(response["stream"])
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events if "contentBlockDelta" in e]
    assert starts[0]["start"]["toolUse"]["name"] == "get_weather"
    assert len(pieces) >= 2
    assert orjson.loads("".join(pieces))["city"] == "Paris"
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


@pytest.mark.parametrize("model_id", ["eu.meta.llama3-2-1b-instruct-v1:0", "mistral.mistral-large-2402-v1:0"])
def test_models_without_streaming_tool_use_refuse_tools_in_converse_stream(runtime, model_id):
    with pytest.raises(runtime.exceptions.ValidationException, match="tool use in streaming mode"):
        runtime.converse_stream(modelId=model_id, messages=user("météo à Paris"), toolConfig=tools(WEATHER))


def test_llama_calls_tools_without_streaming(runtime):
    response = runtime.converse(
        modelId="eu.meta.llama3-2-3b-instruct-v1:0", messages=user("météo à Paris"), toolConfig=tools(WEATHER)
    )
    assert tool_uses(response)[0]["input"]["city"] == "Paris"


def test_mistral_large_takes_tool_choice_any_but_not_a_named_tool(runtime):
    config = {**tools(WEATHER), "toolChoice": {"any": {}}}
    response = runtime.converse(
        modelId="mistral.mistral-large-2402-v1:0", messages=user("Bonjour"), toolConfig=config
    )
    assert tool_uses(response)[0]["name"] == "get_weather"
