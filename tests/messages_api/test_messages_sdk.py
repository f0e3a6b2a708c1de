"""The Anthropic Messages API end to end: the real `anthropic` SDK against a gateway process and the
emulator. Create, stream (text, tool use, thinking), a tool round trip, count_tokens, prompt caching,
Llama and Mistral answering in Anthropic's format, and errors in Anthropic's shape."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import anthropic
import pytest

from tests.gateway.conftest import call, emulator_stats
from tests.gateway.images import png
from tests.messages_api.conftest import MASTER_KEY, TEAM_KEY

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}


def test_create_answers_a_message(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=200,
        system="You are terse.",
        messages=[{"role": "user", "content": "Bonjour, comment ça va ?"}],
    )
    assert message.type == "message" and message.role == "assistant" and message.model == "claude-3-haiku"
    assert message.id.startswith("msg_")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Emulated answer: Bonjour, comment ça va ?"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0


def test_stop_sequences_and_max_tokens_say_why_the_answer_stopped(claude: anthropic.Anthropic) -> None:
    cut = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=200,
        stop_sequences=["three"],
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert cut.stop_reason == "stop_sequence" and cut.stop_sequence == "three"
    assert "three" not in cut.content[0].text
    short = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=3,
        messages=[{"role": "user", "content": "a rather long question " * 5}],
    )
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens <= 3


def test_anthropic_model_names_resolve_through_a_wildcard_and_an_alias(claude: anthropic.Anthropic) -> None:
    wildcard = claude.messages.create(
        model="claude-haiku-4-5-20251001", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    )
    assert wildcard.model == "claude-haiku-4-5-20251001" and wildcard.content[0].text == "Emulated answer: Hi"
    alias = claude.messages.with_raw_response.create(
        model="claude-sonnet-4-5-20250929", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    )
    assert alias.headers["x-bedrock-proxy-deployment"] == "claude-3-7-sonnet#0"


def test_a_stream_is_anthropics_event_sequence(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-3-haiku", max_tokens=200, messages=[{"role": "user", "content": "Raconte une histoire"}]
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds and "message_delta" in kinds
    assert final.content[0].text == "Emulated answer: Raconte une histoire"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_a_tool_round_trip_streamed_and_not(claude: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    with claude.messages.stream(
        model="claude-3-haiku", max_tokens=300, tools=[WEATHER], messages=[question]
    ) as stream:
        kinds = [event.type for event in stream]
        asked = stream.get_final_message()
    assert "input_json" in kinds or any(k == "content_block_delta" for k in kinds)
    assert asked.stop_reason == "tool_use"
    (use,) = [block for block in asked.content if block.type == "tool_use"]
    assert use.name == "get_weather" and use.input["city"] == "Paris"
    answer = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=300,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump() for block in asked.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18 degrees, sunny"}],
            },
        ],
    )
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text == 'The tool returned: [{"text":"18 degrees, sunny"}]'


def test_tool_choice_any_and_tool_force_a_call(claude: anthropic.Anthropic) -> None:
    for choice in ({"type": "any"}, {"type": "tool", "name": "get_weather"}):
        message = claude.messages.create(
            model="claude-3-haiku",
            max_tokens=300,
            tools=[WEATHER],
            tool_choice=choice,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "Hello"}],
        )
        assert message.stop_reason == "tool_use" and message.content[-1].type == "tool_use"
    none = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=300,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    )
    assert none.stop_reason == "end_turn" and [b.type for b in none.content] == ["text"]


def test_thinking_comes_back_with_a_signature_and_goes_back_unchanged(claude: anthropic.Anthropic) -> None:
    question = {"role": "user", "content": "What is the weather in Lyon?"}
    first = claude.messages.create(
        model="claude-3-7-sonnet",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2000},
        tools=[WEATHER],
        messages=[question],
    )
    thinking, use = first.content[0], first.content[-1]
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    assert use.type == "tool_use"
    history = [question, {"role": "assistant", "content": [block.model_dump() for block in first.content]}]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "rain"}]}
    second = claude.messages.create(
        model="claude-3-7-sonnet",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 2000},
        tools=[WEATHER],
        messages=[*history, result],
    )
    assert second.content[-1].type == "text" and "rain" in second.content[-1].text
    # the emulator, like Claude, refuses a thinking block whose text no longer matches its signature
    tampered = json.loads(json.dumps(history))
    tampered[1]["content"][0]["thinking"] = "something else"
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model="claude-3-7-sonnet",
            max_tokens=4000,
            thinking={"type": "enabled", "budget_tokens": 2000},
            tools=[WEATHER],
            messages=[*tampered, result],
        )
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "signature" in refused.value.body["error"]["message"]  # type: ignore[index]


def test_a_thinking_stream_has_thinking_and_signature_deltas(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-3-7-sonnet",
        max_tokens=4000,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        messages=[{"role": "user", "content": "Think about dragons"}],
    ) as stream:
        deltas = [event.delta.type for event in stream if event.type == "content_block_delta"]
        final = stream.get_final_message()
    assert "thinking_delta" in deltas and "signature_delta" in deltas and "text_delta" in deltas
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].signature


def test_thinking_on_a_model_without_it_is_left_out_not_refused(claude: anthropic.Anthropic) -> None:
    response = claude.messages.with_raw_response.create(
        model="claude-3-haiku",
        max_tokens=64000,  # Claude Code's ceiling: lowered to the model's limit
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        extra_body={"output_config": {"effort": "high"}, "context_management": {"edits": []}},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14,made-up-beta-2099-01-01"},
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert response.parse().content[0].type == "text"
    assert set(response.headers["x-bedrock-proxy-dropped-params"].split(",")) == {
        "max_tokens",
        "thinking",
        "effort",
    }


def test_repeated_cache_control_prefixes_are_written_then_read(claude: anthropic.Anthropic) -> None:
    system = [
        {
            "type": "text",
            "text": "Project notes. " * 800 + str(time.time()),
            "cache_control": {"type": "ephemeral"},
        }
    ]
    asks = [
        claude.messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            system=system,
            messages=[{"role": "user", "content": question}],
        )
        for question in ("First question", "Second question")
    ]
    first, second = (message.usage for message in asks)
    assert first.cache_creation_input_tokens > 1000 and first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0 and second.input_tokens < 20


@pytest.mark.parametrize("model", ["llama3-2-3b", "mistral-large"])
def test_llama_and_mistral_answer_in_anthropics_format(claude: anthropic.Anthropic, model: str) -> None:
    message = claude.messages.create(
        model=model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Hello"}]
    )
    assert message.model == model and message.content[0].text == "Emulated answer: Hello"
    with claude.messages.stream(
        model=model,
        max_tokens=300,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Rome?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[-1].input["city"] == "Rome"  # type: ignore[union-attr]


def test_count_tokens_uses_bedrock_for_claude_and_an_estimate_elsewhere(
    claude: anthropic.Anthropic, emulator_url: str
) -> None:
    messages: Any = [{"role": "user", "content": "How many tokens is this sentence, roughly?"}]
    calls = emulator_stats(emulator_url)["by_operation"].get("CountTokens", 0)
    counted = claude.messages.count_tokens(model="claude-3-haiku", system="Be brief.", messages=messages)
    longer = claude.messages.count_tokens(model="claude-3-haiku", system="Be brief." * 50, messages=messages)
    assert 0 < counted.input_tokens < longer.input_tokens
    assert emulator_stats(emulator_url)["by_operation"]["CountTokens"] == calls + 2  # Bedrock counted them
    estimated = claude.messages.count_tokens(model="llama3-2-3b", messages=messages, tools=[WEATHER])
    assert estimated.input_tokens > 10  # Llama has no CountTokens: the gateway's estimate, tools included
    assert emulator_stats(emulator_url)["by_operation"]["CountTokens"] == calls + 2


def test_a_bearer_token_is_a_key_too_and_the_call_is_in_the_spend_logs(messages_gateway_url: str) -> None:
    team = anthropic.Anthropic(auth_token=TEAM_KEY, base_url=messages_gateway_url, max_retries=0)
    response = team.messages.with_raw_response.create(
        model="claude-3-haiku",
        max_tokens=50,
        metadata={"user_id": "user-42"},
        messages=[{"role": "user", "content": "Hi"}],
    )
    request_id = response.headers["x-request-id"]
    deadline = time.monotonic() + 20
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, _, rows = call(f"{messages_gateway_url}/spend/logs?api_key={TEAM_KEY}", key=MASTER_KEY)
        if status == 200 and any(row["request_id"] == request_id for row in rows):
            break
        time.sleep(0.2)
    (row,) = [row for row in rows if row["request_id"] == request_id]
    assert (row["key_alias"], row["call_type"], row["model"]) == ("coders", "chat", "claude-3-haiku")
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def test_errors_are_in_anthropics_shape(claude: anthropic.Anthropic, messages_gateway_url: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(
            model="claude-3-haiku", max_tokens=10, messages=[{"role": "robot", "content": "x"}]
        )  # type: ignore[misc,list-item]
    assert bad.value.status_code == 400
    assert bad.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": bad.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert "messages[0].role" in bad.value.body["error"]["message"]  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError) as unauthorised:
        anthropic.Anthropic(api_key="sk-wrong", base_url=messages_gateway_url, max_retries=0).messages.create(
            model="claude-3-haiku", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert unauthorised.value.status_code == 401
    assert unauthorised.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "gpt-4o" in missing.value.body["error"]["message"]  # type: ignore[index]
    status, _, body = call(f"{messages_gateway_url}/v1/messages", raw=b"{not json", key=MASTER_KEY)
    assert status == 400 and body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    status, _, body = call(
        f"{messages_gateway_url}/v1/messages/count_tokens", {"model": "x", "messages": []}, key=None
    )
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_a_bedrock_failure_mid_stream_is_an_error_event(messages_gateway_url: str) -> None:
    status, _, text = call(
        f"{messages_gateway_url}/v1/messages?beta=true",
        {
            "model": "claude-3-haiku",
            "max_tokens": 300,
            "stream": True,
            "messages": [
                {
                    "role": "user",
                    "content": "Tell me a long story [[emu:fault=stream-error,after=2,error=throttling]]",
                }
            ],
        },
        key=MASTER_KEY,
    )
    assert status == 200
    blocks = [block for block in text.split("\n\n") if block]
    assert blocks[0].startswith("event: message_start")
    name, data = blocks[-1].split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: "))["error"]["type"] in (
        "rate_limit_error",
        "overloaded_error",
    )


def test_head_of_the_root_answers(messages_gateway_url: str) -> None:
    status, _, _ = call(f"{messages_gateway_url}/", method="HEAD", key=None)
    assert status == 200


def test_the_response_cache_answers_a_repeated_message(caching_gateway_url: str) -> None:
    cached = anthropic.Anthropic(api_key=MASTER_KEY, base_url=caching_gateway_url, max_retries=0)
    question: Any = [{"role": "user", "content": f"Cache me {time.time()}"}]
    first, second = (
        cached.messages.with_raw_response.create(model="claude-3-haiku", max_tokens=50, messages=question)
        for _ in range(2)
    )
    assert (first.headers["x-bedrock-proxy-cache"], second.headers["x-bedrock-proxy-cache"]) == (
        "miss",
        "hit",
    )
    one, two = first.parse(), second.parse()
    assert one.content == two.content and one.usage == two.usage and one.id != two.id
    streamed = cached.messages.with_raw_response.create(
        model="claude-3-haiku", max_tokens=50, messages=question, stream=True
    )
    assert "x-bedrock-proxy-cache" not in streamed.headers  # streams are not answered from the cache


def test_images_documents_and_tool_results_with_images_reach_claude(claude: anthropic.Anthropic) -> None:
    image = base64.b64encode(png()).decode()
    pdf = base64.b64encode(b"%PDF-1.4 a tiny document").decode()
    message = claude.messages.create(
        model="claude-3-haiku",
        max_tokens=100,
        tools=[WEATHER],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
                    {
                        "type": "document",
                        "title": "Report",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                    },
                    {"type": "text", "text": "Describe both"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "radar down"},
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": image},
                            },
                        ],
                    }
                ],
            },
        ],
    )
    assert (
        message.content[0].text.startswith("The tool returned:") and "radar down" in message.content[0].text
    )


def test_an_image_url_to_a_private_address_is_refused_in_anthropics_shape(
    claude: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model="claude-3-haiku",
            max_tokens=50,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "url", "url": "http://169.254.169.254/latest/meta-data/iam"},
                        },
                        {"type": "text", "text": "What is this?"},
                    ],
                }
            ],
        )
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "169.254.169.254" in refused.value.body["error"]["message"]  # type: ignore[index]


def test_the_model_list_is_anthropics_for_the_anthropic_sdk(
    claude: anthropic.Anthropic, messages_gateway_url: str
) -> None:
    models = list(claude.models.list())
    assert [model.id for model in models][:2] == ["claude-3-haiku", "claude-3-7-sonnet"]
    assert all(model.type == "model" and model.created_at.year == 2023 for model in models)
    status, _, body = call(f"{messages_gateway_url}/v1/models", key=MASTER_KEY)  # an OpenAI client
    assert status == 200 and body["object"] == "list" and body["data"][0]["object"] == "model"


def test_an_unavailable_bedrock_is_anthropics_529_overloaded(claude: anthropic.Anthropic) -> None:
    # the SDK's class for a 529 moved (OverloadedError at the 0.50 floor, InternalServerError since): the
    # status and the error type are what clients branch on
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(
            model="claude-3-haiku",
            max_tokens=10,
            messages=[{"role": "user", "content": "Hello [[emu:fault=unavailable]]"}],
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def requests_by_status(gateway_url: str) -> dict[str, float]:
    """bedrock_proxy_requests_total of claude-3-haiku in /metrics, by the status its records carry."""
    status, _, text = call(f"{gateway_url}/metrics", key=None)
    assert status == 200
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.fullmatch(
            r'bedrock_proxy_requests_total\{model_group="claude-3-haiku",status="(\d+)"\} (\S+)', line
        )
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_an_overloaded_call_is_recorded_with_the_529_the_client_saw(
    claude: anthropic.Anthropic, messages_gateway_url: str
) -> None:
    before = requests_by_status(messages_gateway_url)
    with pytest.raises(anthropic.APIStatusError) as refused:
        claude.messages.create(
            model="claude-3-haiku",
            max_tokens=10,
            messages=[{"role": "user", "content": "Hello [[emu:fault=unavailable]]"}],
        )
    assert refused.value.status_code == 529
    # the same overload after the stream began
    with (
        pytest.raises(anthropic.APIStatusError) as cut,
        claude.messages.stream(
            model="claude-3-haiku",
            max_tokens=200,
            messages=[{"role": "user", "content": "un deux [[emu:fault=stream-error,error=unavailable]]"}],
        ) as stream,
    ):
        for _ in stream:
            pass
    assert "overloaded" in str(cut.value).lower()
    after = requests_by_status(messages_gateway_url)
    # what /metrics, the logs and every sink see is what the Anthropic client saw: 529, not Bedrock's 503
    assert after.get("529", 0) - before.get("529", 0) == 2
    assert after.get("503", 0) == before.get("503", 0)


def test_an_integer_beyond_64_bits_is_a_400_naming_it_not_a_server_error(claude: anthropic.Anthropic) -> None:
    # Bedrock's JSON takes no integer past 64 bits: the gateway says which field, before any call
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model="claude-3-haiku",
            max_tokens=10,
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"top_k": 2**64},
        )
    assert "'top_k' is out of range" in refused.value.body["error"]["message"]  # type: ignore[index]
