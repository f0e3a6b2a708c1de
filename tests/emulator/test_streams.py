"""ConverseStream and InvokeModelWithResponseStream: event order, framing, pacing and mid-stream errors."""

from __future__ import annotations

import base64
import time

import orjson
import pytest
from botocore.exceptions import EventStreamError

from tests.emulator.conftest import HAIKU, decode_frames, raw_post, user


def test_converse_stream_sends_bedrocks_event_sequence(runtime):
    events = list(runtime.converse_stream(modelId=HAIKU, messages=user("Bonjour, comment vas-tu?"))["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and events[0]["messageStart"]["role"] == "assistant"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert "contentBlockStart" not in kinds  # text blocks begin with a delta
    assert kinds.count("contentBlockDelta") >= 2
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    usage = events[-1]["metadata"]["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert "latencyMs" in events[-1]["metadata"]["metrics"]


def test_streamed_text_equals_the_non_streamed_answer(runtime):
    request = {"modelId": HAIKU, "messages": user("Écris une courte histoire sur un chat")}
    events = list(runtime.converse_stream(**request)["stream"])
    streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    whole = runtime.converse(**request)
    assert streamed == whole["output"]["message"]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"]["outputTokens"] == whole["usage"]["outputTokens"]


def test_stream_frames_carry_the_p_padding_field_and_valid_crcs(open_emulator):
    body = orjson.dumps({"messages": user("hello there, how are you")})
    status, headers, data = raw_post(open_emulator.url, f"/model/{HAIKU}/converse-stream", body)
    assert status == 200
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    frames = decode_frames(data)
    assert all(h[":message-type"] == "event" and h[":content-type"] == "application/json" for h, _ in frames)
    assert all(isinstance(payload.get("p"), str) and payload["p"] for _, payload in frames)
    assert {len(payload["p"]) for _, payload in frames} != {len(frames[0][1]["p"])}


def test_time_to_first_token_and_gap_between_deltas_are_honoured(runtime):
    started = time.perf_counter()
    response = runtime.converse_stream(
        modelId=HAIKU, messages=user("one two three four five six [[emu:ttft=0.2]]")
    )
    stream = iter(response["stream"])
    next(stream)
    first_token = time.perf_counter() - started
    assert first_token >= 0.2

    response = runtime.converse_stream(
        modelId=HAIKU, messages=user("one two three four five six [[emu:gap=0.05]]")
    )
    arrivals = [time.perf_counter() for event in response["stream"] if "contentBlockDelta" in event]
    assert len(arrivals) >= 3
    assert arrivals[-1] - arrivals[0] >= 0.9 * 0.05 * (len(arrivals) - 1)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("throttling", "throttlingException"),
        ("validation", "validationException"),
        ("internal", "internalServerException"),
        ("unavailable", "serviceUnavailableException"),
        ("model-stream-error", "modelStreamErrorException"),
    ],
)
def test_a_mid_stream_error_surfaces_as_event_stream_error_after_n_deltas(runtime, error, code):
    response = runtime.converse_stream(
        modelId=HAIKU,
        messages=user(f"one two three four five six seven [[emu:fault=stream-error,after=2,error={error}]]"),
    )
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in response["stream"]:
            received.append(event)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"]
    assert sum("contentBlockDelta" in event for event in received) == 2


def test_a_stream_error_after_more_deltas_than_the_answer_has_still_ends_the_stream(runtime):
    response = runtime.converse_stream(modelId=HAIKU, messages=user("hi [[emu:fault=stream-error,after=99]]"))
    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])
    assert caught.value.response["Error"]["Code"] == "internalServerException"


def _chunks(response) -> list[dict]:
    return [orjson.loads(event["chunk"]["bytes"]) for event in response["body"]]


def test_anthropic_invoke_stream_sends_anthropic_events(runtime):
    body = orjson.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 200,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Bonjour, comment vas-tu?"}]}],
        }
    )
    response = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=body)
    assert response["contentType"] == "application/json"
    chunks = _chunks(response)
    types = [chunk["type"] for chunk in chunks]
    assert types[0] == "message_start" and types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert "Bonjour" in text
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == chunks[-2]["usage"]["output_tokens"]


@pytest.mark.parametrize(
    ("model_id", "body", "text_of"),
    [
        (
            "amazon.titan-text-express-v1",
            {"inputText": "User: Bonjour le monde\nBot:", "textGenerationConfig": {"maxTokenCount": 100}},
            lambda c: c["outputText"],
        ),
        (
            "eu.meta.llama3-2-1b-instruct-v1:0",
            {"prompt": "Bonjour le monde", "max_gen_len": 100},
            lambda c: c["generation"],
        ),
        (
            "mistral.mistral-7b-instruct-v0:2",
            {"prompt": "<s>[INST] Bonjour le monde [/INST]"},
            lambda c: c["outputs"][0]["text"],
        ),
    ],
)
def test_text_models_stream_their_native_chunks(runtime, model_id, body, text_of):
    chunks = _chunks(runtime.invoke_model_with_response_stream(modelId=model_id, body=orjson.dumps(body)))
    assert len(chunks) >= 2
    assert "Bonjour le monde" in "".join(text_of(chunk) for chunk in chunks)
    assert "amazon-bedrock-invocationMetrics" in chunks[-1]


def test_invoke_stream_mid_stream_error_is_an_event_stream_error(runtime):
    body = orjson.dumps(
        {"inputText": "one two three four five six [[emu:fault=stream-error,after=1,error=throttling]]"}
    )
    response = runtime.invoke_model_with_response_stream(modelId="amazon.titan-text-express-v1", body=body)
    with pytest.raises(EventStreamError) as caught:
        list(response["body"])
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_embedding_models_refuse_streaming(runtime):
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.invoke_model_with_response_stream(
            modelId="amazon.titan-embed-text-v2:0", body=orjson.dumps({"inputText": "hi"})
        )


def test_invoke_stream_chunk_payloads_are_base64_with_padding(open_emulator):
    status, headers, data = raw_post(
        open_emulator.url,
        "/model/amazon.titan-text-lite-v1/invoke-with-response-stream",
        orjson.dumps({"inputText": "hello world"}),
    )
    assert status == 200 and headers["x-amzn-bedrock-content-type"] == "application/json"
    frames = decode_frames(data)
    assert all(h[":event-type"] == "chunk" and "p" in payload for h, payload in frames)
    assert orjson.loads(base64.b64decode(frames[0][1]["bytes"]))["outputText"]
