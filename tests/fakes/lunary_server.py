"""A local Lunary run ingestion API keeping the published contract, for tests.

POST /v1/runs/ingest with "Authorization: Bearer <project id>": a key that is not a UUID -> 402 ("Incorrect
project id format"), an unknown project -> 401, as Lunary answers. The body is {"events": event | [event]};
events are taken in timestamp order, each checked against the published Event schema (type among Lunary's
run types, event, runId a UUID, timestamp a date-time, tags a string list, tokensUsage numbers, error with a
message) and answered one by one in {"results": [{id, success, error?}]}. A second `start` of the same run
fails as a duplicate, as in Lunary. Runs are kept as Lunary stores them (start, then end or error merged)
in `runs`; every accepted event in `received`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.threaded import ThreadedFake

RUN_TYPES = frozenset(
    {"llm", "chain", "agent", "tool", "log", "embed", "retriever", "chat", "convo", "message", "thread"}
)


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp must be a date-time string")
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def event_problems(event: Any) -> list[str]:
    """Why an event breaks the published Event schema (empty when it is fine)."""
    if not isinstance(event, dict):
        return ["an event must be an object"]
    problems = []
    if event.get("type") not in RUN_TYPES:
        problems.append(f"type must be one of {sorted(RUN_TYPES)}")
    if not isinstance(event.get("event"), str):
        problems.append("event must be a string")
    try:
        uuid.UUID(str(event.get("runId")))
    except ValueError:
        problems.append("runId must be a UUID")
    try:
        _timestamp(event.get("timestamp"))
    except ValueError as exc:
        problems.append(str(exc))
    tags = event.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append("tags must be a list of strings")
    usage = event.get("tokensUsage")
    if usage is not None and not (
        isinstance(usage, dict)
        and all(isinstance(usage.get(k, 0), (int, float)) for k in ("prompt", "completion"))
    ):
        problems.append("tokensUsage.prompt and .completion must be numbers")
    error = event.get("error")
    if error is not None and not (isinstance(error, dict) and isinstance(error.get("message"), str)):
        problems.append("error must be an object with a message")
    for key in ("metadata", "params", "userProps", "feedback"):
        if event.get(key) is not None and not isinstance(event[key], dict):
            problems.append(f"{key} must be an object")
    return problems


class FakeLunary(ThreadedFake):
    name = "lunary"

    def __init__(self, project_id: str) -> None:
        super().__init__()
        self.project_id = project_id
        self._runs: dict[str, dict[str, Any]] = {}

    @property
    def runs(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(run) for run in self._runs.values()]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._runs.clear()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/runs/ingest", self.ingest)

    async def ingest(self, request: web.Request) -> web.Response:
        self.count("requests")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        try:
            uuid.UUID(token)
        except ValueError:
            return self.refuse("unauthorized", 402, "Incorrect project id format")
        if token != self.project_id:
            return self.refuse("unauthorized", 401, "This project does not exist")
        try:
            events = orjson.loads(await request.read())["events"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return self.refuse("invalid", 500, "Missing events payload.")
        events = events if isinstance(events, list) else [events]
        problems = {i: event_problems(e) for i, e in enumerate(events)}
        valid = [e for i, e in enumerate(events) if not problems[i]]
        results = [
            {"id": e.get("runId") if isinstance(e, dict) else None, "success": False, "error": "; ".join(p)}
            for i, e in enumerate(events)
            if (p := problems[i])
        ]
        if len(results):
            self.count("invalid")
        for event in sorted(valid, key=lambda e: _timestamp(e["timestamp"])):
            results.append(self._register(event))
        return web.json_response({"results": results})

    def _register(self, event: dict[str, Any]) -> dict[str, Any]:
        run_id, name = event["runId"], event["event"]
        with self.lock:
            run = self._runs.get(run_id)
            if name == "start":
                if run is not None:
                    return {
                        "id": run_id,
                        "success": False,
                        "error": "Run with this ID already exists in the database.",
                    }
                self._runs[run_id] = {
                    "id": run_id,
                    "type": event["type"],
                    "name": event.get("name"),
                    "status": "started",
                    "createdAt": event["timestamp"],
                    "input": event.get("input"),
                    "params": event.get("params"),
                    "userId": event.get("userId"),
                    "tags": event.get("tags"),
                    "metadata": event.get("metadata"),
                    "runtime": event.get("runtime"),
                }
            elif run is not None and name == "end":
                run.update(
                    status="success",
                    endedAt=event["timestamp"],
                    output=event.get("output"),
                    promptTokens=(event.get("tokensUsage") or {}).get("prompt"),
                    completionTokens=(event.get("tokensUsage") or {}).get("completion"),
                )
            elif run is not None and name == "error":
                run.update(status="error", endedAt=event["timestamp"], error=event.get("error"))
            self._received.append(event)
        return {"id": run_id, "success": True}
