"""PromptLayer (`promptlayer` callback): each record is one logged request in PromptLayer.

Protocol, as the promptlayer SDK's log_request sends it today: POST {PROMPTLAYER_BASE_URL}/log-request
(default https://api.promptlayer.com), header X-API-KEY, one JSON body per request, answered 201. Input and
output are Prompt Blueprints (a `chat` template whose messages carry lists of text / image_url parts), so
OpenAI messages are converted; usage, price, tags, string metadata, start and end times (latency), and for
a failed call status ERROR with an error type and message.
"""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_proxy.observability.llmops import gateway_attributes, view
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink

DEFAULT_PROMPTLAYER_BASE_URL = "https://api.promptlayer.com"
PROVIDER = "amazon.bedrock"
MAX_ERROR_MESSAGE = 1024
ROLES = frozenset({"system", "user", "assistant", "tool", "function"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


def blueprint_content(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (a string or parts) as Prompt Blueprint content parts."""
    if content is None:
        return []
    if not isinstance(content, list):
        return [{"type": "text", "text": _text(content)}]
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": _text(part.get("text", ""))})
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            parts.append({"type": "image_url", "image_url": {"url": str(part["image_url"].get("url", ""))}})
        else:  # audio, files, anything newer: kept readable as text
            parts.append({"type": "text", "text": _text(part)})
    return parts


def blueprint_message(message: Any) -> dict[str, Any]:
    """One OpenAI chat message as a Prompt Blueprint message."""
    if not isinstance(message, dict):
        return {"role": "user", "content": blueprint_content(message)}
    role = message.get("role")
    role = "system" if role == "developer" else role if role in ROLES else "user"
    out: dict[str, Any] = {"role": role, "content": blueprint_content(message.get("content"))}
    if role == "assistant" and message.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": str(call.get("id", "")),
                "type": "function",
                "function": {
                    "name": str((call.get("function") or {}).get("name", "")),
                    "arguments": _text((call.get("function") or {}).get("arguments", "")),
                },
            }
            for call in message["tool_calls"]
            if isinstance(call, dict)
        ]
    if role == "tool" and message.get("tool_call_id"):
        out["tool_call_id"] = str(message["tool_call_id"])
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    return out


def chat_template(messages: Any) -> dict[str, Any]:
    if messages is None:
        return {"type": "chat", "messages": []}
    if not isinstance(messages, list):
        messages = [messages]
    return {"type": "chat", "messages": [blueprint_message(m) for m in messages]}


def error_type(record: CallRecord) -> str:
    """The SDK's categories of a failed call."""
    status = record.status
    if status == 429:
        return "PROVIDER_RATE_LIMIT"
    if status == 402:
        return "PROVIDER_QUOTA_LIMIT"
    if status in (408, 504) or "timeout" in (record.error_type or "").lower():
        return "PROVIDER_TIMEOUT"
    if status in (401, 403):
        return "PROVIDER_AUTH_ERROR"
    if record.attempts:
        return "PROVIDER_ERROR"
    return "UNKNOWN_ERROR"


def promptlayer_request(record: CallRecord) -> dict[str, Any]:
    """The /log-request body of one record."""
    v = view(record)
    metadata: dict[str, Any] = {**v.metadata, **gateway_attributes(record)}
    for key, value in (
        ("user_id", v.user_id),
        ("session_id", v.session_id),
        ("cost_usd", record.cost),
        ("latency_ms", round(record.latency * 1000, 3)),
        ("time_to_first_token_ms", None if v.ttft_seconds is None else round(v.ttft_seconds * 1000, 3)),
    ):
        if value is not None:
            metadata[key] = value
    body: dict[str, Any] = {
        "provider": PROVIDER,
        "model": record.bedrock_model_id or record.model_group,
        "input": chat_template(v.input),
        "output": chat_template(v.output),
        "request_start_time": record.start_time,
        "request_end_time": record.end_time,
        "parameters": {"model_group": record.model_group, **v.params},
        "tags": v.tags,
        "metadata": {str(k): _text(val) for k, val in metadata.items()},
        "input_tokens": record.usage.prompt_tokens,
        "output_tokens": record.usage.completion_tokens,
        "price": record.cost or 0.0,
        "function_name": f"bedrock-proxy.{record.client_api}",
        "status": "SUCCESS",
    }
    if v.error is not None:
        body.update(status="ERROR", error_type=error_type(record), error_message=v.error[:MAX_ERROR_MESSAGE])
    return body


class PromptLayerSink(HttpSink):
    """One POST per record (max_batch = 1): the endpoint logs one request at a time."""

    name = "promptlayer"
    max_batch = 1

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.url = (base_url or DEFAULT_PROMPTLAYER_BASE_URL).rstrip("/") + "/log-request"
        self.headers = {"X-API-KEY": api_key, "Content-Type": "application/json"}

    async def send_batch(self, records: list[CallRecord]) -> None:
        for record in records:
            await self.post(self.url, orjson.dumps(promptlayer_request(record), default=str), self.headers)
