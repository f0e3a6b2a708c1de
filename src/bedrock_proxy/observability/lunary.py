"""Lunary (`lunary` callback): each record is one `llm` run in Lunary, through its run ingestion API.

Protocol, as the lunary SDK and Lunary's API reference describe it: POST {LUNARY_API_URL}/v1/runs/ingest
(default https://api.lunary.ai), "Authorization: Bearer <LUNARY_PUBLIC_KEY>" (the project id), body
{"events": [...]}. A run is a `start` event (model as its name, the messages as input, parameters, user,
tags, metadata) then an `end` event (the answer, token usage) or an `error` event, each at its own time:
Lunary computes the duration and, from the model name and tokens, the cost. The answer is 200 with one
result per event; a start refused as a duplicate is a retried delivery that already landed.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from bedrock_proxy.observability.llmops import gateway_attributes, iso, stable_uuid, view
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink, map_yielding

log = logging.getLogger("bedrock_proxy.observability")

DEFAULT_LUNARY_API_URL = "https://api.lunary.ai"
RUNTIME = "bedrock-proxy"


def lunary_events(record: CallRecord) -> list[dict[str, Any]]:
    """The start and the end (or error) events of one record's run."""
    v = view(record)
    run_id = stable_uuid(record.request_id, "lunary-run")
    metadata: dict[str, Any] = {
        **v.metadata,
        **gateway_attributes(record),
        "latency_ms": round(record.latency * 1000, 3),
    }
    if v.session_id:
        metadata["session_id"] = v.session_id
    if v.ttft_seconds is not None:
        metadata["time_to_first_token_ms"] = round(v.ttft_seconds * 1000, 3)
    if record.cost is not None:
        metadata["cost_usd"] = record.cost
    start: dict[str, Any] = {
        "type": "embed" if record.kind == "embedding" else "llm",
        "event": "start",
        "runId": run_id,
        "name": record.bedrock_model_id or record.model_group,
        "timestamp": iso(record.start_time),
        "input": v.input,
        "params": {"model": record.model_group, **v.params},
        "userId": v.user_id,
        "tags": v.tags or None,
        "metadata": metadata,
        "runtime": RUNTIME,
    }
    end: dict[str, Any] = {
        "type": start["type"],
        "runId": run_id,
        "timestamp": iso(record.end_time),
        "runtime": RUNTIME,
    }
    if v.error is not None:
        end.update(event="error", error={"message": v.error, "stack": record.error_type})
    else:
        usage = record.usage
        end.update(
            event="end",
            output=v.output,
            tokensUsage={"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
        )
    return [{k: val for k, val in event.items() if val is not None} for event in (start, end)]


def _already_there(result: dict[str, Any]) -> bool:
    return "already exists" in str(result.get("error") or "")


class LunarySink(HttpSink):
    """Batches of runs (two events each) to Lunary's ingestion endpoint."""

    name = "lunary"
    max_batch = 50

    def __init__(self, *, public_key: str, api_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.url = (api_url or DEFAULT_LUNARY_API_URL).rstrip("/") + "/v1/runs/ingest"
        self.headers = {"Authorization": f"Bearer {public_key}", "Content-Type": "application/json"}
        self.event_errors = 0  # events Lunary refused one by one inside a 200 answer

    def extra_stats(self) -> dict[str, int]:
        return {"event_errors": self.event_errors}

    async def send_batch(self, records: list[CallRecord]) -> None:
        per_record = await map_yielding(lunary_events, records)
        body = orjson.dumps({"events": [e for events in per_record for e in events]}, default=str)
        _, payload = await self.post(self.url, body, self.headers)
        try:
            answer = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            return
        results = answer.get("results") if isinstance(answer, dict) else None
        refused = [
            r for r in results or [] if isinstance(r, dict) and not r.get("success") and not _already_there(r)
        ]
        if refused:
            self.event_errors += len(refused)
            log.warning("%s: %d events refused, first: %s", self.name, len(refused), refused[0])
