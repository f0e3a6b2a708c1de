"""Helicone (`helicone` callback): each record is one request log in Helicone, through its logging API.

Protocol, as Helicone documents its manual logger: POST {HELICONE_API_BASE}/custom/v1/log (default base
https://api.worker.helicone.ai), "Authorization: Bearer <HELICONE_API_KEY>", body {providerRequest: {url,
json, meta}, providerResponse: {headers, status, json}, timing: {startTime, endTime, timeToFirstToken}}.
The request json is the OpenAI chat request, the response json an OpenAI chat.completion (with its usage),
which Helicone reads for model, messages and tokens. User, session and custom properties travel as
Helicone's request headers (Helicone-User-Id, Helicone-Session-Id, Helicone-Property-*). One log a POST.
"""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_proxy.observability.llmops import CallView, gateway_attributes, stable_uuid, view
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink

DEFAULT_HELICONE_API_BASE = "https://api.worker.helicone.ai"
MAX_HEADER_VALUE = 1000


def header_value(value: Any) -> str:
    """A header value Helicone can store: printable ASCII (others become '?'), one line, bounded."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:MAX_HEADER_VALUE]


def _header_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in key)[:100]


def timing_point(t: float) -> dict[str, int]:
    seconds = int(t)
    return {"seconds": seconds, "milliseconds": min(int((t - seconds) * 1000), 999)}


def helicone_headers(record: CallRecord, v: CallView) -> dict[str, str]:
    """Helicone's per-request headers: its id, the user, the session, and the rest as custom properties."""
    headers = {"Helicone-Request-Id": stable_uuid(record.request_id, "helicone")}
    if v.user_id:
        headers["Helicone-User-Id"] = header_value(v.user_id)
    if v.session_id:
        headers["Helicone-Session-Id"] = header_value(v.session_id)
        headers["Helicone-Session-Name"] = header_value(v.name)
    properties: dict[str, Any] = {
        **v.metadata,
        **gateway_attributes(record),
    }
    if v.tags:
        properties["tags"] = ",".join(v.tags)
    if record.cost is not None:
        properties["cost_usd"] = f"{record.cost:.10f}".rstrip("0").rstrip(".")
    for key, value in properties.items():
        name = _header_name(str(key))
        if name:
            headers[f"Helicone-Property-{name}"] = header_value(value)
    return headers


def helicone_log(record: CallRecord, v: CallView) -> dict[str, Any]:
    """The logging API body of one record."""
    request_json: dict[str, Any] = {"model": record.model_group, **v.params}
    if v.input is not None:
        request_json["messages" if record.kind == "chat" else "input"] = v.input
    if record.stream:
        request_json["stream"] = True
    u = record.usage
    usage: dict[str, Any] = {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }
    if u.cache_read_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        usage["cache_creation_input_tokens"] = u.cache_write_tokens
    response_json: dict[str, Any]
    if v.error is not None:
        response_json = {"error": {"message": v.error, "type": record.error_type, "code": record.status}}
    else:
        response_json = {
            "id": record.request_id,
            "object": "chat.completion" if record.kind == "chat" else "list",
            "created": int(record.start_time),
            "model": record.bedrock_model_id or record.model_group,
            "usage": usage,
        }
        if record.kind == "chat":
            response_json["choices"] = [
                {"index": 0, "message": v.output, "finish_reason": record.finish_reason}
            ]
    timing: dict[str, Any] = {
        "startTime": timing_point(record.start_time),
        "endTime": timing_point(record.end_time),
    }
    if v.ttft_seconds is not None:
        timing["timeToFirstToken"] = round(v.ttft_seconds * 1000)
    return {
        "providerRequest": {
            "url": "custom-model-nopath",
            "json": request_json,
            "meta": {"request_id": record.request_id},
        },
        "providerResponse": {
            "headers": {"content-type": "application/json"},
            "status": record.status,
            "json": response_json,
        },
        "timing": timing,
    }


class HeliconeSink(HttpSink):
    """One POST per record (max_batch = 1), so a retry never re-sends a log already accepted."""

    name = "helicone"
    max_batch = 1

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.url = (base_url or DEFAULT_HELICONE_API_BASE).rstrip("/") + "/custom/v1/log"
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    async def send_batch(self, records: list[CallRecord]) -> None:
        for record in records:
            v = view(record)
            body = orjson.dumps(helicone_log(record, v), default=str)
            headers = {**self.headers, **helicone_headers(record, v)}
            await self.post(self.url, body, headers)
