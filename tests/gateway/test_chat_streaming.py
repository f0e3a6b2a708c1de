"""Streaming chat completions end to end: chunk shapes, tool-call deltas, [DONE], errors after the start,
no buffering (chunks spread over time), and a client disconnect that closes the upstream connection."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from urllib.parse import urlsplit

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import MASTER_KEY, assert_openai_error
from tests.gateway.relay import TcpRelay
from tests.gateway.test_chat_completions import CHAT_MODELS, CLOCK
from tests.support.seed import WEATHER_TOOL


def open_stream(base_url: str, body: dict, timeout: float = 60) -> tuple[http.client.HTTPConnection, object]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    connection.request(
        "POST",
        "/v1/chat/completions",
        body=json.dumps({**body, "stream": True}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"},
    )
    return connection, connection.getresponse()


def sse_events(base_url: str, body: dict) -> tuple[int, str, list[str]]:
    """(status, content type, the data of every SSE event in order), read from the raw response."""
    connection, response = open_stream(base_url, body)
    try:
        text = response.read().decode()
    finally:
        connection.close()
    events = [block[len("data: ") :] for block in text.split("\n\n") if block.startswith("data: ")]
    assert text.endswith("\n\n"), "every event ends with a blank line"
    return response.status, response.getheader("content-type"), events


def test_a_stream_is_openai_chunks_then_usage_then_done(gateway_url: str) -> None:
    status, content_type, events = sse_events(
        gateway_url,
        {
            "model": "claude-3-haiku",
            "messages": [{"role": "user", "content": "Écris une courte histoire de dragon"}],
            "stream_options": {"include_usage": True},
        },
    )
    assert status == 200 and content_type.startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk["model"] for chunk in chunks} == {"claude-3-haiku"}
    assert len({chunk["created"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    *content_chunks, finish, usage = chunks
    assert all(chunk["usage"] is None for chunk in [*content_chunks, finish])
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in content_chunks)
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["choices"][0]["delta"] == {}
    assert usage["choices"] == []
    totals = usage["usage"]
    assert totals["total_tokens"] == totals["prompt_tokens"] + totals["completion_tokens"] > 0
    assert totals["prompt_tokens_details"] == {"cached_tokens": 0}
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in content_chunks)
    assert text == "Emulated answer: Écris une courte histoire de dragon"


def test_without_include_usage_no_chunk_carries_usage(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}], stream=True
        )
    )
    assert chunks and all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_token_limit_in_a_stream_finishes_with_length(client: OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude-3-haiku",
            messages=[{"role": "user", "content": "un deux trois quatre cinq six sept huit neuf dix"}],
            max_completion_tokens=3,
            stream=True,
        )
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["length"]


def assemble_tool_calls(stream: object) -> tuple[dict[int, dict], list[str]]:
    calls: dict[int, dict] = {}
    finish_reasons = []
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            if delta.id:
                assert entry["id"] is None, "the id comes once, in the first delta of a call"
                entry["id"] = delta.id
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
        if choice.finish_reason:
            finish_reasons.append(choice.finish_reason)
    return calls, finish_reasons


@pytest.mark.parametrize("model", ["claude-3-haiku", "llama3-1-70b", "mistral-large"])
def test_parallel_tool_calls_stream_as_argument_deltas_with_their_index(client: OpenAI, model: str) -> None:
    # Llama and Mistral cannot stream tool use on Bedrock: the gateway calls Converse, replays it as chunks.
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "La météo et l'heure (hour) à Paris ?"}],
        tools=[WEATHER_TOOL, CLOCK],
        stream=True,
    )
    calls, finish_reasons = assemble_tool_calls(stream)
    assert sorted(calls) == [0, 1]
    assert sorted(call["name"] for call in calls.values()) == ["get_time", "get_weather"]
    assert all(call["id"] for call in calls.values())
    assert all(json.loads(call["arguments"]) == {"city": "Paris"} for call in calls.values())
    assert finish_reasons == ["tool_calls"]


def test_tool_arguments_arrive_in_several_deltas_on_claude(gateway_url: str) -> None:
    _, _, events = sse_events(
        gateway_url,
        {
            "model": "claude-3-haiku",
            "messages": [{"role": "user", "content": "Quelle est la météo à Paris ?"}],
            "tools": [WEATHER_TOOL],
        },
    )
    argument_deltas = [
        call["function"]["arguments"]
        for event in events[:-1]
        for call in json.loads(event)["choices"][0]["delta"].get("tool_calls", [])
        if call["function"].get("arguments")
    ]
    assert len(argument_deltas) > 1
    assert json.loads("".join(argument_deltas)) == {"city": "Paris"}


def test_a_json_schema_answer_streams_as_content(client: OpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    stream = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": "La ville de Lyon"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        stream=True,
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert isinstance(json.loads(content)["city"], str)
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]


def test_n_streams_interleave_choices_and_sum_usage(gateway_url: str) -> None:
    _, _, events = sse_events(
        gateway_url,
        {
            "model": "claude-3-haiku",
            "messages": [{"role": "user", "content": "Deux versions"}],
            "n": 2,
            "stream_options": {"include_usage": True},
        },
    )
    chunks = [json.loads(event) for event in events[:-1]]
    texts = {0: "", 1: ""}
    finishes = {}
    for chunk in chunks[:-1]:
        choice = chunk["choices"][0]
        texts[choice["index"]] += choice["delta"].get("content") or ""
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert texts[0] == texts[1] == "Emulated answer: Deux versions"
    assert finishes == {0: "stop", 1: "stop"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


# --- failures --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("throttling", "bedrock_throttled"),
        ("internal", "bedrock_internal_error"),
        ("model-stream-error", "bedrock_model_stream_error"),
    ],
)
def test_an_upstream_failure_after_the_start_ends_the_stream_with_an_error_event(
    special_gateway_url: str, error: str, code: str
) -> None:
    status, _, events = sse_events(
        special_gateway_url,
        {
            "model": "faulty-haiku",
            "messages": [
                {"role": "user", "content": f"une deux trois [[emu:fault=stream-error,error={error}]]"}
            ],
        },
    )
    assert status == 200
    assert events[-1] == "[DONE]"
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-2]]
    assert any(contents), "deltas before the failure were forwarded"
    assert_openai_error(json.loads(events[-2]), code=code)


def test_the_openai_sdk_raises_on_the_error_event(special_client: OpenAI) -> None:
    stream = special_client.chat.completions.create(
        model="faulty-haiku",
        messages=[{"role": "user", "content": "un deux trois [[emu:fault=stream-error,error=throttling]]"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError, match="ThrottlingException"):
        for chunk in stream:
            received.append(chunk)
    assert received, "the chunks before the failure reached the client"


def test_a_failure_before_the_first_byte_is_a_plain_http_error(special_client: OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        special_client.chat.completions.create(
            model="faulty-haiku",
            messages=[{"role": "user", "content": "Bonjour [[emu:fault=throttling]]"}],
            stream=True,
        )
    assert caught.value.body["code"] == "bedrock_throttled"


# --- timing ----------------------------------------------------------------------------------------------


def test_each_delta_is_forwarded_when_it_arrives_not_batched(client: OpenAI) -> None:
    gap = 0.2
    stream = client.chat.completions.create(
        model="claude-3-haiku",
        messages=[{"role": "user", "content": f"histoire [[emu:text=12,gap={gap}]]"}],
        stream=True,
    )
    arrivals = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) >= 5
    spaced = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    # Batching would deliver everything together; on a busy machine gaps may stretch but not vanish.
    assert sum(1 for interval in spaced if interval >= gap / 2) >= len(spaced) - 1, spaced
    assert arrivals[-1] - arrivals[0] >= gap * (len(arrivals) - 1) * 0.7, spaced


def test_a_client_disconnect_closes_the_upstream_connection(
    special_gateway_url: str, relay: TcpRelay
) -> None:
    # A 40-word answer at 0.5 s per two-word delta takes about 10 s upstream.
    known = len(relay.connections)
    connection, response = open_stream(
        special_gateway_url,
        {"model": "relayed-haiku", "messages": [{"role": "user", "content": "long [[emu:text=40,gap=0.5]]"}]},
    )
    assert response.status == 200
    first = response.readline()
    assert first.startswith(b"data: ")
    disconnected_at = time.monotonic()
    connection.sock.close()
    connection.close()
    deadline = disconnected_at + 8
    upstream = None
    while time.monotonic() < deadline:
        new = relay.connections[known:]
        if new and all(c.closed_at is not None for c in new):
            upstream = new
            break
        time.sleep(0.05)
    assert upstream, "the gateway kept its Bedrock connection open after the client left"
    assert len(upstream) == 1
    assert upstream[0].closed_at - disconnected_at < 5, "closed well before the 10 s stream would end"


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_every_seed_chat_model_streams_its_answer(client: OpenAI, model: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": "Sois bref."},
                {"role": "user", "content": "Raconte une histoire de chat"},
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("Raconte une histoire de chat")
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.completion_tokens > 0
