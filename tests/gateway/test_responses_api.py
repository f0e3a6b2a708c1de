"""The OpenAI Responses API through the gateway, with the real openai SDK against a gateway process and the
emulator: plain and streamed answers, function tools round trips, previous_response_id, retrieve and
delete, per-key isolation of stored responses, and 400s naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import MASTER_KEY, assert_openai_error, call
from tests.support.processes import gateway_process

MODEL = "claude-3-haiku"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture(scope="module")
def team_a(gateway_url: str) -> OpenAI:
    return OpenAI(api_key="sk-team-a", base_url=f"{gateway_url}/v1", max_retries=0, timeout=60)


def test_a_plain_response_has_openais_shape_text_and_usage(client: OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="Say hello", instructions="Answer briefly.")

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODEL
    assert response.instructions == "Answer briefly."
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.id.startswith("msg_")
    assert response.output_text and "hello" in response.output_text.lower()
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_items_with_developer_and_assistant_roles_are_answered(client: OpenAI) -> None:
    response = client.responses.create(
        model=MODEL,
        input=[
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be kind."}]},
            {"role": "user", "content": "Bonjour"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Salut !"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Comment vas-tu ?"}]},
        ],
        max_output_tokens=50,
        temperature=0.5,
    )
    assert response.status == "completed"
    assert response.output_text
    assert response.max_output_tokens == 50 and response.temperature == 0.5


def test_a_stream_sends_the_full_event_sequence_and_ends_completed(client: OpenAI) -> None:
    events = list(client.responses.create(model=MODEL, input="Tell me about Lisbon", stream=True))

    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(types[4:-4]) == {"response.output_text.delta"}
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert final.status == "completed" and final.output_text == deltas
    assert final.usage is not None and final.usage.output_tokens > 0
    assert events[0].response.status == "in_progress"  # type: ignore[union-attr]


def test_the_sdk_stream_helper_assembles_the_final_response(client: OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="Say hello to Ada") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.output_text
    assert final.status == "completed"


def test_a_function_tool_round_trip(client: OpenAI) -> None:
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.responses.create(model=MODEL, input=question, tools=[WEATHER_TOOL])  # type: ignore[arg-type]

    [call_item] = [item for item in first.output if item.type == "function_call"]
    assert call_item.name == "get_weather" and call_item.call_id and call_item.id.startswith("fc_")
    assert json.loads(call_item.arguments) == {"city": "Paris"}
    assert first.status == "completed"

    follow_up = [
        *question,
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call_item.call_id, "output": "Sunny, 24 C"},
    ]
    second = client.responses.create(model=MODEL, input=follow_up, tools=[WEATHER_TOOL])  # type: ignore[arg-type]
    assert "Sunny, 24 C" in second.output_text
    assert all(item.type == "message" for item in second.output)


def test_a_streamed_function_call_sends_argument_events(client: OpenAI) -> None:
    with client.responses.stream(
        model=MODEL,
        input="What is the weather in Rome?",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert "response.function_call_arguments.delta" in types
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(done.arguments) == {"city": "Rome"}
    [item] = final.output
    assert item.type == "function_call" and json.loads(item.arguments) == {"city": "Rome"}
    assert types[-1] == "response.completed"


def test_previous_response_id_continues_the_stored_conversation(client: OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="What is the weather in Paris?", tools=[WEATHER_TOOL])  # type: ignore[list-item]
    [call_item] = [item for item in first.output if item.type == "function_call"]

    # only the tool's output is sent: the call it answers comes from the stored response
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call_item.call_id, "output": "Rainy, 12 C"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert second.previous_response_id == first.id
    assert "Rainy, 12 C" in second.output_text

    # and a third turn carries both earlier turns: more input tokens than the same question alone
    alone = client.responses.create(model=MODEL, input="And tomorrow?")
    third = client.responses.create(model=MODEL, previous_response_id=second.id, input="And tomorrow?")
    assert third.usage is not None and alone.usage is not None
    assert third.usage.input_tokens > alone.usage.input_tokens


def test_a_streamed_response_is_stored_and_continued(client: OpenAI) -> None:
    with client.responses.stream(model=MODEL, input="My name is Ada") as stream:
        first = stream.get_final_response()
    stored = client.responses.retrieve(first.id)
    assert stored.output_text == first.output_text
    second = client.responses.create(model=MODEL, previous_response_id=first.id, input="What is my name?")
    assert second.status == "completed"


def test_retrieve_and_delete_a_stored_response(client: OpenAI) -> None:
    created = client.responses.create(model=MODEL, input="Say hello")
    retrieved = client.responses.retrieve(created.id)
    assert retrieved.id == created.id and retrieved.output_text == created.output_text
    assert retrieved.usage == created.usage

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_keeps_nothing(client: OpenAI) -> None:
    created = client.responses.create(model=MODEL, input="Say hello", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_another_key_can_neither_read_continue_nor_delete_a_response(
    client: OpenAI, team_a: OpenAI, gateway_url: str
) -> None:
    mine = team_a.responses.create(model=MODEL, input="A secret plan")

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(mine.id)  # the master key is another key too
    with pytest.raises(openai.NotFoundError) as continued:
        client.responses.create(model=MODEL, previous_response_id=mine.id, input="Tell me the plan")
    assert_openai_error(
        continued.value.body and {"error": continued.value.body}, param="previous_response_id"
    )
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(mine.id)
    status, _, body = call(f"{gateway_url}/v1/responses/{mine.id}", key="sk-team-b")
    assert status == 404
    assert_openai_error(body, code="not_found")

    assert team_a.responses.retrieve(mine.id).output_text == mine.output_text  # still there for its owner


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
        ({"input": "hi", "temperature": 5}, "temperature"),
        ({"input": "hi", "max_output_tokens": "many"}, "max_output_tokens"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"input": "hi", "tools": [{"type": "function", "name": "bad name!"}]}, "tools[0].name"),
        ({"input": "hi", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
        ({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({}, "input"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(gateway_url: str, body: dict[str, Any], param: str) -> None:
    status, _, answer = call(f"{gateway_url}/v1/responses", {"model": MODEL, **body})
    assert status == 400, answer
    error = assert_openai_error(answer, param=param)
    assert error["type"] == "invalid_request_error"


def test_the_sdk_raises_bad_request_for_a_bad_role(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=MODEL, input=[{"role": "robot", "content": "hi"}])  # type: ignore[list-item]
    assert raised.value.param == "input[0].role"  # type: ignore[attr-defined]


def test_a_codex_shaped_request_is_served_with_its_unservable_tools_dropped(gateway_url: str) -> None:
    body = {
        "model": MODEL,
        "instructions": "You are a coding agent.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
        ],
        "tools": [
            {"type": "function", "name": "shell", "description": "Runs a command", "parameters": {}},
            {"type": "web_search"},
            {"type": "namespace", "name": "mcp", "description": "x", "tools": []},
            {"type": "custom", "name": "apply_patch", "description": "x"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "abc",
        "client_metadata": {"x": "y"},
    }
    status, headers, text = call(
        f"{gateway_url}/v1/responses",
        body,
        headers={"Accept": "text/event-stream", "originator": "codex_exec"},
    )
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names == [event["type"] for event in events]
    assert events[-1]["type"] == "response.completed"
    assert [tool["name"] for tool in events[-1]["response"]["tools"]] == ["shell"]


def test_unknown_response_ids_and_methods(gateway_url: str) -> None:
    status, _, body = call(f"{gateway_url}/v1/responses/resp_unknown", key=MASTER_KEY)
    assert status == 404
    assert_openai_error(body, code="not_found")
    status, _, body = call(f"{gateway_url}/v1/responses/resp_unknown", key=None)
    assert status == 401


def test_a_failure_mid_stream_ends_with_an_error_event_and_response_failed(special_client: OpenAI) -> None:
    events = list(
        special_client.responses.create(
            model="faulty-haiku",
            input="un deux trois [[emu:fault=stream-error,error=throttling]]",
            stream=True,
        )
    )
    types = [event.type for event in events]
    assert "response.output_text.delta" in types, "deltas before the failure were forwarded"
    assert types[-2:] == ["error", "response.failed"]
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None
    assert "ThrottlingException" in failed.error.message or "throttl" in failed.error.message.lower()
    assert events[-2].message == failed.error.message  # type: ignore[union-attr]


def test_a_response_that_failed_mid_stream_is_stored_as_failed(special_client: OpenAI) -> None:
    events = list(
        special_client.responses.create(
            model="faulty-haiku",
            input="quatre cinq six [[emu:fault=stream-error,error=throttling]]",
            stream=True,
        )
    )
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None
    stored = special_client.responses.retrieve(failed.id)  # OpenAI keeps a failed response, not a 404
    assert stored.id == failed.id and stored.status == "failed"
    assert stored.error is not None and stored.error.message == failed.error.message
    assert stored.error.code == failed.error.code
    assert [item.model_dump() for item in stored.output] == [item.model_dump() for item in failed.output]
    special_client.responses.delete(failed.id)
    with pytest.raises(openai.NotFoundError):
        special_client.responses.retrieve(failed.id)


def test_a_failure_before_the_first_byte_is_a_plain_openai_error(special_client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        special_client.responses.create(
            model="faulty-haiku", input="Bonjour [[emu:fault=throttling]]", stream=True
        )
    assert caught.value.body["code"] == "bedrock_throttled"  # type: ignore[index]


def test_a_key_limited_to_other_models_gets_a_403_naming_the_model(gateway_url: str) -> None:
    status, _, body = call(f"{gateway_url}/v1/responses", {"model": MODEL, "input": "hi"}, key="sk-team-b")
    assert status == 403
    error = assert_openai_error(body, code="model_not_allowed", param="model")
    assert error["type"] == "permission_error"


def test_an_unusable_database_fails_stored_lookups_with_a_503_and_still_answers(
    emulator_url: str, tmp_path: Path
) -> None:
    config = f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
general_settings:
  disable_spend_logs: true
"""
    # no master key and no spend logs: nothing but the stored responses uses the database (a master key
    # and a database turn key management on, which opens the database at start-up and stops it there)
    (tmp_path / "not-a-dir").write_text("a file where a directory should be")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/not-a-dir/responses.db"}
    with gateway_process(config, tmp_path, emulator_url=emulator_url, env=env) as url:
        status, _, created = call(f"{url}/v1/responses", {"model": MODEL, "input": "Say hello"})
        assert status == 200 and created["status"] == "completed"  # answered, only not stored
        status, _, body = call(f"{url}/v1/responses/{created['id']}")
        assert status == 503
        error = assert_openai_error(body, code="stored_responses_unavailable")
        assert "Stored responses are unavailable" in error["message"]
        continued = {"model": MODEL, "input": "Again", "previous_response_id": created["id"]}
        assert call(f"{url}/v1/responses", continued)[0] == 503


def test_the_input_items_of_a_stored_response_are_listed_newest_first(client: OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="My name is Ada", instructions="Be brief")
    second = client.responses.create(model=MODEL, previous_response_id=first.id, input="What is my name?")

    page = client.responses.input_items.list(second.id)
    texts = [item.content[0].text for item in page.data if item.type == "message"]  # type: ignore[union-attr]
    # the new input, then the first response's answer, then its input; the instructions are not items
    assert texts == ["What is my name?", first.output_text, "My name is Ada"]
    assert all(item.id for item in page.data)

    ascending = client.responses.input_items.list(second.id, order="asc", limit=1)
    assert [item.content[0].text for item in ascending.data] == ["My name is Ada"]  # type: ignore[union-attr]
    assert ascending.has_more is True
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_unknown")


def test_a_bad_input_items_page_is_a_400_naming_the_query_field(client: OpenAI, gateway_url: str) -> None:
    created = client.responses.create(model=MODEL, input="Say hello")
    status, _, body = call(f"{gateway_url}/v1/responses/{created.id}/input_items?limit=0")
    assert status == 400
    assert_openai_error(body, param="limit")
    status, _, body = call(f"{gateway_url}/v1/responses/{created.id}/input_items?order=up")
    assert status == 400
    assert_openai_error(body, param="order")


def test_the_routes_answer_without_the_v1_prefix_too(gateway_url: str) -> None:
    status, _, created = call(f"{gateway_url}/responses", {"model": MODEL, "input": "Say hello"})
    assert status == 200
    status, _, again = call(f"{gateway_url}/responses/{created['id']}")
    assert status == 200 and again["id"] == created["id"]
    status, _, deleted = call(f"{gateway_url}/responses/{created['id']}", method="DELETE")
    assert status == 200 and deleted == {"id": created["id"], "object": "response", "deleted": True}
