"""A gateway with the `otel` callback, driven by the OpenAI SDK, exports OTLP/protobuf spans that a collector
decodes with OpenTelemetry's own protobuf classes: one CLIENT span per request, named and attributed by the
GenAI semantic conventions (names checked against the opentelemetry-semantic-conventions constants)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes

from bedrock_proxy.observability import otlp
from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    MASTER_KEY,
    Gateway,
    config_text,
    drop_a_stream,
    eventually,
    gateway,
)


class Collector:
    """An OTLP/HTTP trace receiver: every span of every export, decoded by opentelemetry-proto."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.content_types: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":  # OTLP/HTTP allows gzip bodies
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.content_types.append(self.headers["Content-Type"])
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans.extend(scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def span_named(self, name: str) -> list[Span]:
        return [span for span in self.spans if span.name == name]


def attrs(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        if kind == "array_value":
            out[item.key] = [getattr(v, v.WhichOneof("value")) for v in item.value.array_value.values]
        else:
            out[item.key] = getattr(item.value, kind)
    return out


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()


@pytest.fixture(scope="module")
def otel_gateway(
    collector: Collector, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
    }
    with gateway(
        config_text('  callbacks: ["otel"]\n'),
        tmp_path_factory.mktemp("otel"),
        emulator_url=emulator_url,
        env=env,
    ) as running:
        yield running


def test_a_streamed_chat_is_one_client_span_in_the_genai_conventions(
    otel_gateway: Gateway, collector: Collector
) -> None:
    client = openai.OpenAI(base_url=otel_gateway.url + "/v1", api_key=MASTER_KEY)
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Bonjour"}],
        max_tokens=50,
        temperature=0.3,
        top_p=0.9,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": "otel-genai-stream"},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text
    (span,) = eventually(lambda: [s for s in collector.spans if attrs(s).get(gen_ai.GEN_AI_REQUEST_STREAM)])
    a = attrs(span)
    assert span.name == f"chat {CHAT_MODEL}"
    assert span.kind == Span.SpanKind.SPAN_KIND_CLIENT
    assert a[gen_ai.GEN_AI_OPERATION_NAME] == "chat"
    assert a[gen_ai.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert a[gen_ai.GEN_AI_REQUEST_MODEL] == CHAT_MODEL
    assert a[gen_ai.GEN_AI_RESPONSE_MODEL] == CHAT_MODEL_ID
    assert a[gen_ai.GEN_AI_RESPONSE_ID] == "otel-genai-stream"
    assert a[gen_ai.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert a[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == pytest.approx(0.3)
    assert a[gen_ai.GEN_AI_REQUEST_TOP_P] == pytest.approx(0.9)
    assert a[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert a[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert a[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    assert (
        0
        < a[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
        <= (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
    )
    assert orjson.loads(a[gen_ai.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Bonjour"}]}
    ]
    (output,) = orjson.loads(a[gen_ai.GEN_AI_OUTPUT_MESSAGES])
    assert output["role"] == "assistant"
    assert output["finish_reason"] == "stop"
    assert "".join(part["content"] for part in output["parts"] if part["type"] == "text") == text
    assert collector.content_types[0] == "application/x-protobuf"


def test_a_request_opting_out_of_message_logging_exports_no_messages(
    otel_gateway: Gateway, collector: Collector
) -> None:
    client = openai.OpenAI(base_url=otel_gateway.url + "/v1", api_key=MASTER_KEY)
    client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "secret"}],
        extra_body={"metadata": {"turn_off_message_logging": True}},
        extra_headers={"x-request-id": "otel-genai-private"},
    )
    (span,) = eventually(
        lambda: [
            s for s in collector.spans if attrs(s).get(gen_ai.GEN_AI_RESPONSE_ID) == "otel-genai-private"
        ]
    )
    a = attrs(span)
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in a
    assert gen_ai.GEN_AI_OUTPUT_MESSAGES not in a
    assert a[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


def test_a_failed_request_has_error_type_and_error_status(
    otel_gateway: Gateway, collector: Collector
) -> None:
    client = openai.OpenAI(base_url=otel_gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "hi"}],
            temperature=7,
            extra_headers={"x-request-id": "otel-genai-bad"},
        )
    (span,) = eventually(
        lambda: [s for s in collector.spans if attrs(s).get(gen_ai.GEN_AI_RESPONSE_ID) == "otel-genai-bad"]
    )
    a = attrs(span)
    assert a[error_attributes.ERROR_TYPE]
    assert span.status.code == span.status.STATUS_CODE_ERROR
    assert span.name == f"chat {CHAT_MODEL}"


def test_a_stream_cut_short_says_its_usage_is_an_estimate(
    otel_gateway: Gateway, collector: Collector
) -> None:
    drop_a_stream(otel_gateway.url, "otel-cut-short")
    (span,) = eventually(lambda: [s for s in collector.spans if s.trace_id == trace_id_of("otel-cut-short")])
    a = attrs(span)
    assert a["http.response.status_code"] == 499
    assert a["bedrock_proxy.usage_estimated"] is True
    assert a[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] > 0 and a[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    client = openai.OpenAI(base_url=otel_gateway.url + "/v1", api_key=MASTER_KEY)
    client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Bonjour"}],
        extra_headers={"x-request-id": "otel-whole"},
    )
    (span,) = eventually(lambda: [s for s in collector.spans if s.trace_id == trace_id_of("otel-whole")])
    assert attrs(span)["bedrock_proxy.usage_estimated"] is False


def trace_id_of(request_id: str) -> bytes:
    return bytes.fromhex(otlp.hex_id(request_id, 32))
