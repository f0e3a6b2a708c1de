"""Generic webhook sink: one JSON document per CallRecord POSTed to WEBHOOK_URL, retried in the background."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink


def record_to_dict(record: CallRecord, *, log_messages: bool = True) -> dict[str, Any]:
    """The record as plain JSON-able data; input and output left out when message logging is off."""
    out = dataclasses.asdict(record)
    out["latency"] = record.latency
    out["usage"]["total_tokens"] = record.usage.total_tokens
    if not log_messages:
        out["input"] = None
        out["output"] = None
    return out


def parse_headers(raw: str | None) -> dict[str, str]:
    """WEBHOOK_HEADERS is a JSON object of header names to values."""
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(
            f'WEBHOOK_HEADERS must be a JSON object such as \'{{"Authorization": "Bearer x"}}\': {exc}'
        ) from exc
    if not isinstance(value, dict):
        raise ValueError("WEBHOOK_HEADERS must be a JSON object of header names to values")
    return {str(k): str(v) for k, v in value.items()}


class WebhookSink(HttpSink):
    """POSTs each record on its own (max_batch = 1), so a retry never re-sends a record already accepted."""

    name = "webhook"
    max_batch = 1

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        log_messages: bool = True,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.log_messages = log_messages

    async def send_batch(self, records: list[CallRecord]) -> None:
        for record in records:
            body = orjson.dumps(record_to_dict(record, log_messages=self.log_messages), default=str)
            await self.post(self.url, body, self.headers)
