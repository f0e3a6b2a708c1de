"""A local W&B + Weave trace server keeping the contract the weave SDK relies on, for tests.

W&B side (the API base, WANDB_BASE_URL): POST /graphql answering the queries weave.init sends (viewer's
default entity, Project, UpsertModel). Trace server side, under /traces as for a self-managed W&B:
GET /traces/server_info, POST /traces/obj/create and /traces/file/create (what weave.init publishes for
an op), and POST /traces/v2/{entity}/{project}/calls/complete, whose every call is checked against the
published schema (required fields, their types, ISO times, project id matching the path) and kept in
`calls`. Basic auth "api:<key>" everywhere -> 401; writing to a project that was never created -> 404.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.threaded import ThreadedFake

REQUIRED = {
    "id": str,
    "trace_id": str,
    "project_id": str,
    "op_name": str,
    "started_at": str,
    "ended_at": str,
    "attributes": dict,
    "inputs": dict,
    "summary": dict,
}
OPTIONAL = {
    "display_name": str,
    "exception": str,
    "otel_dump": dict,
    "output": object,
    "parent_id": str,
    "thread_id": str,
    "turn_id": str,
    "wb_run_id": str,
    "wb_run_step": int,
    "wb_run_step_end": int,
    "wb_user_id": str,
}
USAGE_KEYS = {
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "prompt_tokens",
    "requests",
    "total_tokens",
}


def _iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def call_problems(call: Any, project_id: str) -> list[str]:
    """Why a calls/complete batch item breaks the schema (empty when it is fine)."""
    if not isinstance(call, dict):
        return ["a call must be an object"]
    problems = [f"missing {key}" for key in REQUIRED if key not in call]
    for key, value in call.items():
        kind = REQUIRED.get(key) or OPTIONAL.get(key)
        if kind is None:
            problems.append(f"unknown field {key}")
        elif value is not None and not isinstance(value, kind):
            problems.append(f"{key} must be {kind.__name__}")
        elif value is None and key in REQUIRED:
            problems.append(f"{key} may not be null")
    if problems:
        return problems
    try:
        if _iso(call["ended_at"]) < _iso(call["started_at"]):
            problems.append("ended_at before started_at")
    except ValueError as exc:
        problems.append(f"bad timestamp: {exc}")
    if call["project_id"] != project_id:
        problems.append(f"project_id {call['project_id']!r} is not {project_id!r}")
    for model, usage in (call["summary"].get("usage") or {}).items():
        if not isinstance(usage, dict) or not all(
            isinstance(v, int) for k, v in usage.items() if k in USAGE_KEYS
        ):
            problems.append(f"summary.usage[{model!r}] must map token kinds to integers")
    return problems


class FakeWeave(ThreadedFake):
    name = "weave"

    def __init__(self, api_key: str, *, default_entity: str = "fake-entity") -> None:
        super().__init__()
        self.api_key = api_key
        self.default_entity = default_entity
        self.projects: set[str] = set()
        self.graphql_operations: list[str] = []
        self.objects: list[dict[str, Any]] = []

    @property
    def calls(self) -> list[dict[str, Any]]:
        return self.received

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/graphql", self.graphql)
        app.router.add_get("/traces/server_info", self.server_info)
        app.router.add_post("/traces/obj/create", self.obj_create)
        app.router.add_post("/traces/file/create", self.file_create)
        app.router.add_post("/traces/v2/{entity}/{project}/calls/complete", self.calls_complete)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == "api" and key == self.api_key

    async def graphql(self, request: web.Request) -> web.Response:
        self.count("requests")
        if not self._authorized(request):
            return self.refuse("unauthorized", 401, "unauthorized")
        body = await request.json()
        query, variables = body.get("query", ""), body.get("variables") or {}
        if "viewer" in query:
            self.graphql_operations.append("DefaultEntity")
            return web.json_response(
                {"data": {"viewer": {"username": "tester", "defaultEntity": {"name": self.default_entity}}}}
            )
        if "upsertModel" in query:
            self.graphql_operations.append("UpsertModel")
            with self.lock:
                self.projects.add(f"{variables['entity']}/{variables['name']}")
            return web.json_response({"data": {"upsertModel": {"model": {"name": variables["name"]}}}})
        if "project(" in query:
            self.graphql_operations.append("Project")
            key = f"{variables['entityName']}/{variables['name']}"
            found = {"name": variables["name"]} if key in self.projects else None
            return web.json_response({"data": {"project": found}})
        return web.json_response({"errors": [{"message": "query not supported by the fake"}]})

    async def server_info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"min_required_weave_python_version": "0.0.1", "trace_server_version": "0.0.0-fake"}
        )

    async def obj_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.refuse("unauthorized", 401, "unauthorized")
        obj = (await request.json())["obj"]
        with self.lock:
            self.objects.append(obj)
        digest = obj.get("expected_digest") or hashlib.sha256(orjson.dumps(obj["val"])).hexdigest()[:43]
        return web.json_response({"digest": digest})

    async def file_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self.refuse("unauthorized", 401, "unauthorized")
        form = await request.post()
        content = form["file"].file.read() if hasattr(form.get("file"), "file") else b""  # type: ignore[union-attr]
        digest = str(form.get("expected_digest") or hashlib.sha256(content).hexdigest()[:43])
        return web.json_response({"digest": digest})

    async def calls_complete(self, request: web.Request) -> web.Response:
        self.count("requests")
        if not self._authorized(request):
            return self.refuse("unauthorized", 401, "unauthorized")
        project_id = f"{request.match_info['entity']}/{request.match_info['project']}"
        with self.lock:
            known = project_id in self.projects
        if not known:
            return self.refuse("invalid", 404, f"project {project_id} not found")
        try:
            batch = orjson.loads(await request.read())["batch"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return self.refuse("invalid", 422, f"body must be {{'batch': [...]}}: {exc}")
        problems = [p for call in batch for p in call_problems(call, project_id)]
        if problems:
            return self.refuse("invalid", 422, "; ".join(problems))
        for call in batch:
            self.accept(call)
        return web.json_response({})
