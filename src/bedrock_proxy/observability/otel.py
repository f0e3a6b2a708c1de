"""OpenTelemetry sink: OTLP/HTTP spans with gen_ai.* semantic-convention attributes, to any collector.

Configured like every OTLP exporter: OTEL_EXPORTER_OTLP_ENDPOINT (".../v1/traces" is appended) or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", URL-encoded
values), OTEL_EXPORTER_OTLP_PROTOCOL (http/json default, http/protobuf), OTEL_SERVICE_NAME. Traceloop is
the same sink pointed at TRACELOOP_BASE_URL with TRACELOOP_API_KEY as a bearer token.
OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental leaves out the deprecated gen_ai.system.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from bedrock_proxy.observability import genai, otlp
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink, map_yielding


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


def gen_ai_span(record: CallRecord, *, log_messages: bool, deprecated_names: bool = True) -> dict[str, Any]:
    """One CLIENT span per record, named and attributed by the GenAI conventions (observability/genai.py),
    with the gateway's own facts beside them under bedrock_proxy.*."""
    attrs = genai.gen_ai_attributes(record, log_messages=log_messages, deprecated_names=deprecated_names)
    attrs.update(
        {
            "cloud.region": record.region or None,
            "http.response.status_code": record.status,
            "bedrock_proxy.deployment_id": record.deployment_id or None,
            "bedrock_proxy.cost_usd": record.cost,
            "bedrock_proxy.attempts": len(record.attempts),
            "bedrock_proxy.fallback_used": record.fallback_used,
            "bedrock_proxy.cache_hit": record.cache_hit,
            "bedrock_proxy.usage_estimated": record.usage_estimated,  # the tokens are the gateway's estimate
            "user.id": record.user,
            "bedrock_proxy.client_api": record.client_api,
        }
    )
    if record.first_token_time is not None:
        attrs["bedrock_proxy.time_to_first_token_s"] = record.first_token_time - record.start_time
    error = (record.error_message or record.error_type or f"HTTP {record.status}") if not record.ok else None
    return otlp.span(
        trace_id=otlp.hex_id(record.request_id, 32),
        span_id=otlp.hex_id(f"{record.request_id}:otel", 16),
        name=genai.span_name(record),
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
        deprecated_names: bool = True,
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
        self.deprecated_names = deprecated_names  # gen_ai.system beside gen_ai.provider.name

    async def send_batch(self, records: list[CallRecord]) -> None:
        spans = await map_yielding(
            lambda r: gen_ai_span(r, log_messages=self.log_messages, deprecated_names=self.deprecated_names),
            records,
        )
        request = otlp.export_request(spans, resource=self.resource, scope="bedrock-proxy")
        body = otlp.protobuf_body(request) if self.protobuf else otlp.json_body(request)
        await self.post(self.url, body, self.headers)
