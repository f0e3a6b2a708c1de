"""The otel / traceloop spans follow the OpenTelemetry GenAI semantic conventions: every gen_ai.* name the
gateway writes is one the opentelemetry-semantic-conventions package defines, the required ones are there
with the spec's values, and messages are in the spec's parts schema."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiOperationNameValues,
    GenAiProviderNameValues,
)
from opentelemetry.semconv.attributes import error_attributes

from bedrock_proxy.observability import genai
from bedrock_proxy.observability.langfuse import LangfuseOptions, otlp_spans
from bedrock_proxy.observability.otel import gen_ai_span
from bedrock_proxy.observability.otlp import SPAN_KIND_CLIENT
from bedrock_proxy.observability.record import Usage
from tests.observability.records import T0, record

SPEC_NAMES = {value for name, value in vars(gen_ai).items() if name.startswith("GEN_AI_")}
# names the package still defines but marks "Replaced by ..." (gen_ai.system is kept on purpose, see genai.py)
REPLACED = {gen_ai.GEN_AI_USAGE_PROMPT_TOKENS, gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS, gen_ai.GEN_AI_PROMPT}

RECORDS = {
    "chat": record(),
    "stream with cache tokens": record(
        stream=True,
        first_token_time=T0 + 0.2,
        usage=Usage(prompt_tokens=120, completion_tokens=9, cache_read_tokens=100, cache_write_tokens=8),
        params={"temperature": 0.5, "max_tokens": 64, "top_p": 0.9, "top_k": 40, "stop": ["END"], "seed": 7},
        metadata={"session_id": "conv-1"},
    ),
    "tool call": record(
        output={
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
            ],
        },
        finish_reason="tool_calls",
    ),
    "failure": record(status=429, error_type="ThrottlingException", error_message="slow down", output=None),
    "embedding": record(
        kind="embedding",
        model_group="titan-embed",
        input=["a", "b"],
        output={"count": 2, "dimensions": 256},
        params={"dimensions": 256, "encoding_format": "float"},
        usage=Usage(prompt_tokens=4),
    ),
}


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for item in span["attributes"]:
        value = item["value"]
        if "arrayValue" in value:
            out[item["key"]] = [next(iter(v.values())) for v in value["arrayValue"]["values"]]
        else:
            kind, raw = next(iter(value.items()))
            out[item["key"]] = int(raw) if kind == "intValue" else raw
    return out


@pytest.mark.parametrize("name", RECORDS)
def test_every_gen_ai_name_is_one_the_conventions_define(name: str) -> None:
    attrs = attributes(gen_ai_span(RECORDS[name], log_messages=True))
    written = {key for key in attrs if key.startswith("gen_ai.")}
    assert written, name
    assert written <= SPEC_NAMES, written - SPEC_NAMES
    assert not written & REPLACED


@pytest.mark.parametrize("name", RECORDS)
def test_the_required_attributes_carry_the_spec_values(name: str) -> None:
    rec = RECORDS[name]
    span = gen_ai_span(rec, log_messages=True)
    attrs = attributes(span)
    operation = (
        GenAiOperationNameValues.EMBEDDINGS if rec.kind == "embedding" else GenAiOperationNameValues.CHAT
    ).value
    assert attrs[gen_ai.GEN_AI_OPERATION_NAME] == operation
    assert attrs[gen_ai.GEN_AI_PROVIDER_NAME] == GenAiProviderNameValues.AWS_BEDROCK.value
    assert attrs[gen_ai.GEN_AI_REQUEST_MODEL] == rec.model_group
    assert attrs[gen_ai.GEN_AI_RESPONSE_MODEL] == rec.bedrock_model_id
    assert attrs[gen_ai.GEN_AI_RESPONSE_ID] == rec.request_id
    assert attrs[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == rec.usage.prompt_tokens
    assert span["name"] == f"{operation} {rec.model_group}"
    assert span["kind"] == SPAN_KIND_CLIENT
    if rec.ok:
        assert error_attributes.ERROR_TYPE not in attrs
        assert span["status"] == {"code": 1}
    else:
        assert attrs[error_attributes.ERROR_TYPE] == "ThrottlingException"
        assert span["status"]["code"] == 2


def test_request_parameters_usage_and_stream_timing() -> None:
    attrs = attributes(gen_ai_span(RECORDS["stream with cache tokens"], log_messages=True))
    assert attrs[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert attrs[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[gen_ai.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[gen_ai.GEN_AI_REQUEST_TOP_K] == 40
    assert attrs[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] == ["END"]
    assert attrs[gen_ai.GEN_AI_REQUEST_SEED] == 7
    assert attrs[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 120  # cache reads and writes included, as the spec says
    assert attrs[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attrs[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert attrs[gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 8
    assert attrs[gen_ai.GEN_AI_REQUEST_STREAM] is True
    assert attrs[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == pytest.approx(0.2)
    assert attrs[gen_ai.GEN_AI_CONVERSATION_ID] == "conv-1"
    assert attrs[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]


def test_a_non_streamed_answer_says_nothing_of_streaming() -> None:
    attrs = attributes(gen_ai_span(RECORDS["chat"], log_messages=True))
    assert gen_ai.GEN_AI_REQUEST_STREAM not in attrs
    assert gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in attrs
    assert gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in attrs


def test_embeddings_carry_dimensions_and_encoding_not_messages() -> None:
    attrs = attributes(gen_ai_span(RECORDS["embedding"], log_messages=True))
    assert attrs[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 256
    assert attrs[gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS] == ["float"]
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in attrs
    assert gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs


def test_the_deprecated_system_name_goes_with_the_latest_only_opt_in() -> None:
    assert attributes(gen_ai_span(record(), log_messages=True))[gen_ai.GEN_AI_SYSTEM] == "aws.bedrock"
    latest = attributes(gen_ai_span(record(), log_messages=True, deprecated_names=False))
    assert gen_ai.GEN_AI_SYSTEM not in latest
    assert genai.latest_only({"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental"})
    assert not genai.latest_only({"OTEL_SEMCONV_STABILITY_OPT_IN": "http"})
    assert not genai.latest_only({})


def test_messages_are_left_out_when_message_logging_is_off() -> None:
    attrs = attributes(gen_ai_span(record(), log_messages=False))
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in attrs
    assert gen_ai.GEN_AI_OUTPUT_MESSAGES not in attrs
    # the recorder applies the per-request opt-outs: a record without input carries none either
    attrs = attributes(gen_ai_span(record(input=None, output=None), log_messages=True))
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in attrs


def test_messages_are_json_in_the_parts_schema() -> None:
    attrs = attributes(gen_ai_span(RECORDS["tool call"], log_messages=True))
    assert orjson.loads(attrs[gen_ai.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Bonjour"}]}
    ]
    assert orjson.loads(attrs[gen_ai.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "t1", "name": "f", "arguments": {"x": 1}}],
            "finish_reason": "tool_call",
        }
    ]
    assert attrs[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_call"]


INPUTS = [
    ("masked", "redacted", [{"role": "user", "parts": [{"type": "text", "content": "redacted"}]}]),
    (
        "openai chat with a system message, an image, a tool result",
        [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "42"},
        ],
        [
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {
                "role": "user",
                "parts": [
                    {"type": "text", "content": "what is this?"},
                    {"type": "blob", "modality": "image", "mime_type": "image/png"},
                    {"type": "uri", "modality": "image", "uri": "https://example.com/a.png"},
                ],
            },
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "t1", "response": "42"}]},
        ],
    ),
    (
        "anthropic messages with tool use, a tool result and thinking",
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "tool_use", "id": "tu1", "name": "f", "input": {"x": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "tu1", "content": [{"type": "text", "text": "ok"}]}
                ],
            },
        ],
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "hmm"},
                    {"type": "tool_call", "id": "tu1", "name": "f", "arguments": {"x": 1}},
                ],
            },
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "tu1", "response": "ok"}]},
        ],
    ),
    (
        "responses input items",
        [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": "b"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
        ],
        [
            {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
            {
                "role": "assistant",
                "parts": [{"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": "b"}}],
            },
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "done"}]},
        ],
    ),
]


@pytest.mark.parametrize(("case", "given", "expected"), INPUTS, ids=[case for case, _, _ in INPUTS])
def test_input_messages_of_every_client_api(case: str, given: Any, expected: list[dict[str, Any]]) -> None:
    assert genai.input_messages(given) == expected


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("stop", "stop"), ("length", "length"), ("tool_calls", "tool_call"), ("end_turn", "stop"),
     ("max_tokens", "length"), ("tool_use", "tool_call"), ("content_filter", "content_filter")],
)  # fmt: skip
def test_finish_reasons_are_the_spec_values(reason: str, expected: str) -> None:
    assert genai.finish_reason(reason) == expected


def test_an_output_with_reasoning_and_anthropic_blocks() -> None:
    message = {"role": "assistant", "content": "4", "reasoning_content": "2+2"}
    assert genai.output_messages(message, "stop") == [
        {
            "role": "assistant",
            "parts": [{"type": "reasoning", "content": "2+2"}, {"type": "text", "content": "4"}],
            "finish_reason": "stop",
        }
    ]
    blocks = [{"type": "text", "text": "hi"}]
    assert genai.output_messages(blocks, "end_turn") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hi"}], "finish_reason": "stop"}
    ]


def test_the_langfuse_generation_span_uses_the_same_names() -> None:
    spans = otlp_spans(record(), LangfuseOptions())
    (generation,) = [s for s in spans if attributes(s).get("langfuse.observation.type") == "generation"]
    attrs = attributes(generation)
    written = {key for key in attrs if key.startswith("gen_ai.")}
    assert written <= SPEC_NAMES, written - SPEC_NAMES
    assert attrs[gen_ai.GEN_AI_PROVIDER_NAME] == GenAiProviderNameValues.AWS_BEDROCK.value
    assert attrs[gen_ai.GEN_AI_OPERATION_NAME] == GenAiOperationNameValues.CHAT.value
