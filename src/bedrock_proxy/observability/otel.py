"""OpenTelemetry sink: OTLP/HTTP spans with gen_ai.* semantic-convention attributes, to any collector.

Configured like every OTLP exporter: OTEL_EXPORTER_OTLP_ENDPOINT (".../v1/traces" is appended) or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", URL-encoded
values), OTEL_EXPORTER_OTLP_PROTOCOL (http/json default, http/protobuf), OTEL_SERVICE_NAME. Traceloop is
the same sink pointed at TRACELOOP_BASE_URL with TRACELOOP_API_KEY as a bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import orjson

from bedrock_proxy.observability import otlp
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink, map_yielding

PARAM_ATTRS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop": "gen_ai.request.stop_sequences",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
}


def parse_otlp_headers(raw: str | None) -> dict[str, str]:
    out = {}
    for part in (raw or "").split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[unquote(key.strip())] = unquote(value.strip())
    return out


def traces_url(environ: Mapping[str, str]) -> str | None:
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else None


def gen_ai_span(record: CallRecord, *, log_messages: bool) -> dict[str, Any]:
    operation = "embeddings" if record.kind == "embedding" else "chat"
    attrs: dict[str, Any] = {
        "gen_ai.system": "aws.bedrock",
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": record.model_group,
        "gen_ai.response.model": record.bedrock_model_id,
        "gen_ai.response.id": record.request_id,
        "gen_ai.usage.input_tokens": record.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": record.usage.completion_tokens,
        "gen_ai.response.finish_reasons": [record.finish_reason] if record.finish_reason else None,
        "cloud.region": record.region,
        "http.response.status_code": record.status,
        "error.type": record.error_type if not record.ok else None,
        "bedrock_proxy.deployment_id": record.deployment_id,
        "bedrock_proxy.cost_usd": record.cost,
        "bedrock_proxy.attempts": len(record.attempts),
        "bedrock_proxy.fallback_used": record.fallback_used,
        "user.id": record.user,
        "bedrock_proxy.client_api": record.client_api,
    }
    if record.first_token_time is not None:
        attrs["bedrock_proxy.time_to_first_token_s"] = record.first_token_time - record.start_time
    for key, name in PARAM_ATTRS.items():
        value = (record.params or {}).get(key)
        if value is not None:
            attrs[name] = value if isinstance(value, (int, float, str, list)) else str(value)
    if log_messages and record.input is not None:
        attrs["gen_ai.input.messages"] = orjson.dumps(record.input, default=str).decode()
    if log_messages and record.output is not None:
        attrs["gen_ai.output.messages"] = orjson.dumps(record.output, default=str).decode()
    error = (record.error_message or record.error_type or f"HTTP {record.status}") if not record.ok else None
    return otlp.span(
        trace_id=otlp.hex_id(record.request_id, 32),
        span_id=otlp.hex_id(f"{record.request_id}:otel", 16),
        name=f"{operation} {record.model_group}",
        start=record.start_time,
        end=record.end_time,
        attrs=attrs,
        kind=otlp.SPAN_KIND_CLIENT,
        error=error,
    )


class OtelSink(HttpSink):
    name = "otel"
    max_batch = 200

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        protobuf: bool = False,
        service_name: str = "bedrock-proxy",
        log_messages: bool = True,
        timeout: float = 10.0,
        name: str = "otel",
    ) -> None:
        super().__init__(timeout=timeout)
        self.name = name
        self.url = url
        self.protobuf = protobuf and otlp.protobuf_available()
        self.headers = {
            "Content-Type": "application/x-protobuf" if self.protobuf else "application/json",
            **(headers or {}),
        }
        self.resource = {"service.name": service_name, "telemetry.sdk.language": "python"}
        self.log_messages = log_messages

    async def send_batch(self, records: list[CallRecord]) -> None:
        spans = await map_yielding(lambda r: gen_ai_span(r, log_messages=self.log_messages), records)
        request = otlp.export_request(spans, resource=self.resource, scope="bedrock-proxy")
        body = otlp.protobuf_body(request) if self.protobuf else otlp.json_body(request)
        await self.post(self.url, body, self.headers)
