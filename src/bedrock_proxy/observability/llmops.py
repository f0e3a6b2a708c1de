"""What every LLM-ops product sink (W&B Weave, Helicone, Lunary, PromptLayer) reads from a CallRecord.

User, session, tags and free metadata follow the same request-metadata conventions as the Langfuse export
(langfuse.resolve), so one request shows the same identity everywhere. Input and output are taken as the
record carries them: server/records.Recorder has already applied the message-logging opt-outs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from bedrock_proxy.observability.langfuse import LangfuseOptions, iso, resolve
from bedrock_proxy.observability.record import CallRecord

_ID_NAMESPACE = uuid.UUID("0b6f7a52-3d8e-4a1c-9f5e-1c2d3e4f5a6b")
__all__ = ["CallView", "iso", "jsonable", "stable_uuid", "view"]


def stable_uuid(*parts: str) -> str:
    """The same UUID for the same record every time, so a retried delivery updates instead of duplicating."""
    return str(uuid.uuid5(_ID_NAMESPACE, ":".join(parts)))


def jsonable(value: Any) -> Any:
    """Messages and outputs (dataclasses, tuples...) as plain JSON values."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return orjson.loads(orjson.dumps(value, default=str))


@dataclass(frozen=True, slots=True)
class CallView:
    """One record as the LLM-ops products see a call."""

    name: str  # trace_name from the metadata, else "chat claude-3-haiku"
    trace_key: str  # the client's trace id, else the request id
    user_id: str | None
    session_id: str | None
    tags: list[str]
    metadata: dict[str, Any]  # the request's free metadata (reserved keys left out)
    input: Any
    output: Any
    error: str | None  # what failed, for a failed call
    ttft_seconds: float | None  # time to first token, streams only
    params: dict[str, Any]


def view(record: CallRecord) -> CallView:
    fields = resolve(record, LangfuseOptions())
    error = None
    if not record.ok:
        error = record.error_message or record.error_type or f"HTTP {record.status}"
    ttft = None
    if record.first_token_time is not None:
        ttft = max(record.first_token_time - record.start_time, 0.0)
    return CallView(
        name=fields.trace_name,
        trace_key=fields.trace_key,
        user_id=fields.user_id,
        session_id=fields.session_id,
        tags=fields.tags,
        metadata=jsonable(fields.trace_metadata),
        input=jsonable(record.input),
        output=jsonable(record.output),
        error=error,
        ttft_seconds=ttft,
        params={k: v for k, v in jsonable(record.params or {}).items() if v is not None},
    )


def gateway_attributes(record: CallRecord) -> dict[str, Any]:
    """Where the call went and how: the facts every product shows as metadata."""
    out = {
        "request_id": record.request_id,
        "model_group": record.model_group,
        "deployment_id": record.deployment_id,
        "bedrock_model_id": record.bedrock_model_id,
        "region": record.region,
        "status": record.status,
        "stream": record.stream,
        "finish_reason": record.finish_reason,
        "api_key_alias": record.api_key_alias,
        "attempts": len(record.attempts),
        "fallback_used": record.fallback_used,
        "cache_hit": record.cache_hit,
        "client_api": record.client_api,
        "error_type": record.error_type,
    }
    return {k: v for k, v in out.items() if v is not None}
