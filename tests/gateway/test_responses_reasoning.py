"""The Responses API's reasoning round trip, as Codex does it, with the real openai SDK against a gateway and
the emulator (which signs thinking and, with thinking on, refuses a tool turn sent back without it): a
reasoning item carries Claude's signed thinking in `encrypted_content`, and sending it back before the
function_call (or continuing with previous_response_id) lets the next turn answer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import MASTER_KEY
from tests.support.processes import gateway_process

MODEL = "claude-3-7-sonnet"
CONFIG = f"""
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: eu-west-1
general_settings:
  master_key: {MASTER_KEY}
"""
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
ASK: dict[str, Any] = {
    "model": MODEL,
    "tools": [WEATHER_TOOL],
    "reasoning": {"effort": "low"},
    "include": ["reasoning.encrypted_content"],
    "max_output_tokens": 4000,
}


@pytest.fixture(scope="module")
def client(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    with gateway_process(
        CONFIG, tmp_path_factory.mktemp("responses-reasoning"), emulator_url=emulator_url
    ) as url:
        yield OpenAI(api_key=MASTER_KEY, base_url=f"{url}/v1", max_retries=0, timeout=60)


def _create(client: OpenAI, **fields: Any) -> Any:
    """One Responses call with the reasoning request's fields (items as plain dicts, as Codex sends them)."""
    return client.responses.create(**ASK, **fields)


def _stream(client: OpenAI, **fields: Any) -> Any:
    return client.responses.stream(**ASK, **fields)


def _call_with_reasoning(items: list[Any]) -> tuple[Any, Any]:
    [reasoning] = [item for item in items if item.type == "reasoning"]
    [call] = [item for item in items if item.type == "function_call"]
    assert reasoning.encrypted_content and reasoning.content and reasoning.content[0].text
    return reasoning, call


def _output(call: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 C"}


def test_the_reasoning_item_sent_back_lets_the_tool_turn_answer(client: OpenAI) -> None:
    first = _create(client, input=QUESTION, store=False)
    _, call = _call_with_reasoning(first.output)
    assert json.loads(call.arguments) == {"city": "Paris"}

    sent_back = [item.model_dump(exclude_none=True) for item in first.output]
    second = _create(client, input=[*QUESTION, *sent_back, _output(call)], store=False)
    assert second.status == "completed" and "Sunny, 24 C" in second.output_text

    # without it, Claude (thinking on) refuses the turn: the item is what made the difference
    without = [item for item in sent_back if item["type"] != "reasoning"]
    with pytest.raises(openai.BadRequestError) as refused:
        _create(client, input=[*QUESTION, *without, _output(call)], store=False)
    assert "thinking" in str(refused.value)


def test_changed_reasoning_is_refused_and_bad_content_names_the_field(client: OpenAI) -> None:
    first = _create(client, input=QUESTION, store=False)
    reasoning, call = _call_with_reasoning(first.output)
    payload = json.loads(base64.b64decode(reasoning.encrypted_content))
    payload["blocks"][0]["thinking"] = "something else"
    changed = {**reasoning.model_dump(exclude_none=True)}
    changed["encrypted_content"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(openai.BadRequestError) as tampered:
        _create(client, input=[*QUESTION, changed, call.model_dump(), _output(call)])
    assert "signature" in str(tampered.value)

    payload["blocks"][0] = {"type": "thinking", "thinking": 3}
    changed["encrypted_content"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(openai.BadRequestError) as bad:
        _create(client, input=[*QUESTION, changed, call.model_dump(), _output(call)])
    assert bad.value.body["param"] == "input[1].encrypted_content.blocks[0].thinking"  # type: ignore[index]


def test_a_streamed_reasoning_item_carries_it_too(client: OpenAI) -> None:
    with _stream(client, input=QUESTION, store=False) as stream:
        events = list(stream)
        first = stream.get_final_response()
    reasoning, call = _call_with_reasoning(first.output)
    [done] = [e for e in events if e.type == "response.output_item.done" and e.item.type == "reasoning"]
    assert done.item.encrypted_content == reasoning.encrypted_content

    sent_back = [item.model_dump(exclude_none=True) for item in first.output]
    second = _create(client, input=[*QUESTION, *sent_back, _output(call)], store=False)
    assert "Sunny, 24 C" in second.output_text


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_replays_the_stored_reasoning(client: OpenAI, stream: bool) -> None:
    if stream:
        with _stream(client, input=QUESTION) as events:
            first = events.get_final_response()
    else:
        first = _create(client, input=QUESTION)
    _, call = _call_with_reasoning(first.output)
    second = _create(client, previous_response_id=first.id, input=[_output(call)])
    assert second.status == "completed" and "Sunny, 24 C" in second.output_text
