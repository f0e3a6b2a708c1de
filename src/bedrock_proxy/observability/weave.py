"""Weights & Biases (`wandb` callback): each record is one completed call in W&B Weave, W&B's LLM tracing.

Protocol, as the weave SDK speaks it today: POST {trace server}/v2/{entity}/{project}/calls/complete with
{"batch": [call, ...]}, each call carrying its start and end together, HTTP Basic "api:<WANDB_API_KEY>".
Before the first write the project is made to exist through W&B's GraphQL API (as weave.init does), and
when no entity is configured the key's default entity is asked for there. The trace server is
https://trace.wandb.ai for W&B's cloud, WANDB_BASE_URL + "/traces" for a dedicated or self-managed one.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from bedrock_proxy.observability.llmops import gateway_attributes, iso, stable_uuid, view
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import HttpSink, PermanentSinkError, map_yielding

WANDB_CLOUD_API = "https://api.wandb.ai"
WANDB_CLOUD_TRACES = "https://trace.wandb.ai"

_PROJECT_QUERY = (
    "query Project($name: String!, $entityName: String!) {\n"
    "  project(name: $name, entityName: $entityName) {\n    name\n  }\n}"
)
_UPSERT_PROJECT = (
    "mutation UpsertModel($name: String!, $entity: String!) {\n"
    "  upsertModel(input: {name: $name, entityName: $entity}) {\n    model {\n      name\n    }\n  }\n}"
)
_DEFAULT_ENTITY = (
    "query DefaultEntity {\n  viewer {\n    username\n    defaultEntity {\n      name\n    }\n  }\n}"
)


def trace_server_url(base_url: str | None, override: str | None = None) -> str:
    """Where Weave's trace server is for a W&B API base URL (WF_TRACE_SERVER_URL wins, as in the SDK)."""
    if override:
        return override.rstrip("/")
    base = (base_url or WANDB_CLOUD_API).rstrip("/")
    return WANDB_CLOUD_TRACES if base == WANDB_CLOUD_API else base + "/traces"


def split_project(project: str, entity: str | None) -> tuple[str | None, str]:
    """WANDB_PROJECT may be "entity/project", as weave.init accepts."""
    if "/" in project:
        head, _, name = project.partition("/")
        return entity or head, name
    return entity, project


def weave_call(record: CallRecord, project_id: str) -> dict[str, Any]:
    """One record as a completed Weave call: an `llm` op, the request as its inputs, the answer its output."""
    v = view(record)
    u = record.usage
    usage: dict[str, int] = {
        "requests": 1,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
    }
    if u.cache_read_tokens:
        usage["cache_read_input_tokens"] = u.cache_read_tokens
    if u.cache_write_tokens:
        usage["cache_creation_input_tokens"] = u.cache_write_tokens
    gateway: dict[str, Any] = {
        **gateway_attributes(record),
        "cost_usd": record.cost,
        "input_cost_usd": record.input_cost,
        "output_cost_usd": record.output_cost,
        "latency_ms": round(record.latency * 1000, 3),
        "time_to_first_token_ms": None if v.ttft_seconds is None else round(v.ttft_seconds * 1000, 3),
    }
    attributes: dict[str, Any] = {
        "weave": {"kind": "llm"},
        "bedrock_proxy": {k: val for k, val in gateway.items() if val is not None},
    }
    for key, value in (("user_id", v.user_id), ("session_id", v.session_id), ("tags", v.tags or None)):
        if value is not None:
            attributes[key] = value
    if v.metadata:
        attributes["metadata"] = v.metadata
    inputs: dict[str, Any] = {"model": record.model_group, **v.params}
    if v.input is not None:
        inputs["messages" if record.kind == "chat" else "input"] = v.input
    return {
        "project_id": project_id,
        "id": stable_uuid(record.request_id, "weave-call"),
        "trace_id": stable_uuid(v.trace_key, "weave-trace"),
        "parent_id": None,
        "thread_id": v.session_id,
        "op_name": f"bedrock-proxy.{record.kind}",
        "display_name": v.name,
        "started_at": iso(record.start_time),
        "ended_at": iso(record.end_time),
        "attributes": attributes,
        "inputs": inputs,
        "output": v.output,
        "summary": {
            "usage": {record.bedrock_model_id or record.model_group or "unknown": usage},
            "status_counts": {"success": 0 if v.error else 1, "error": 1 if v.error else 0},
        },
        "exception": v.error,
    }


class WeaveSink(HttpSink):
    """Completed calls to W&B Weave, up to 100 a request."""

    name = "wandb"
    max_batch = 100

    def __init__(
        self,
        *,
        api_key: str,
        project: str,
        entity: str | None = None,
        base_url: str | None = None,
        trace_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.entity, self.project = split_project(project, entity)
        self.api_url = (base_url or WANDB_CLOUD_API).rstrip("/")
        self.trace_url = trace_server_url(base_url, trace_url)
        token = base64.b64encode(f"api:{api_key}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        self._ready = False  # entity known and project created

    async def _graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = orjson.dumps({"query": query, "variables": variables or {}})
        _, payload = await self.post(self.api_url + "/graphql", body, self.headers)
        answer = orjson.loads(payload or b"{}")
        if not isinstance(answer, dict) or answer.get("errors"):
            raise PermanentSinkError(f"{self.name}: W&B refused {query.split('(')[0]!r}: {answer}")
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    async def _ensure_project(self) -> None:
        """The entity (the key's default when none is set) and the project, created once if missing."""
        if self._ready:
            return
        if not self.entity:
            viewer = (await self._graphql(_DEFAULT_ENTITY)).get("viewer") or {}
            self.entity = (viewer.get("defaultEntity") or {}).get("name") or viewer.get("username")
            if not self.entity:
                raise PermanentSinkError(f"{self.name}: no default entity for this key; set WANDB_ENTITY")
        found = await self._graphql(_PROJECT_QUERY, {"name": self.project, "entityName": self.entity})
        if not found.get("project"):
            await self._graphql(_UPSERT_PROJECT, {"name": self.project, "entity": self.entity})
        self._ready = True

    async def send_batch(self, records: list[CallRecord]) -> None:
        await self._ensure_project()
        project_id = f"{self.entity}/{self.project}"
        calls = await map_yielding(lambda record: weave_call(record, project_id), records)
        url = f"{self.trace_url}/v2/{self.entity}/{self.project}/calls/complete"
        await self.post(url, orjson.dumps({"batch": calls}, default=str), self.headers)
