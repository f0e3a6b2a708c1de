"""A local PromptLayer request logging API keeping the contract the promptlayer SDK relies on, for tests.

POST /log-request with an X-API-KEY header (a wrong one -> 401): the body is checked against the SDK's
log_request parameters (provider, model, input and output Prompt Blueprint templates whose chat messages
carry lists of text / image_url parts, numeric start and end times in order, token counts, price, string
metadata, tags, status and error fields) -> 400 with the problems otherwise, and answered 201 with the
RequestLog {"id": n, ...} as PromptLayer answers. Accepted requests are kept in `requests_logged`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.threaded import ThreadedFake

ROLES = frozenset({"system", "user", "assistant", "function", "tool", "placeholder"})
STATUSES = frozenset({"SUCCESS", "WARNING", "ERROR"})


def template_problems(template: Any, where: str) -> list[str]:
    if not isinstance(template, dict) or template.get("type") not in ("chat", "completion"):
        return [f"{where} must be a chat or completion Prompt Blueprint template"]
    if template["type"] == "completion":
        return []
    messages = template.get("messages")
    if not isinstance(messages, list):
        return [f"{where}.messages must be a list"]
    problems = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            problems.append(f"{where}.messages[{i}].role must be one of {sorted(ROLES)}")
            continue
        content = message.get("content", [])
        if not isinstance(content, list):
            problems.append(f"{where}.messages[{i}].content must be a list of parts")
            continue
        for part in content:
            ok = isinstance(part, dict) and (
                (part.get("type") == "text" and isinstance(part.get("text"), str))
                or (part.get("type") == "image_url" and isinstance(part.get("image_url"), dict))
            )
            if not ok:
                problems.append(f"{where}.messages[{i}].content parts must be text or image_url parts")
    return problems


def request_problems(body: Any) -> list[str]:
    """Why a /log-request body breaks the contract (empty when it is fine)."""
    if not isinstance(body, dict):
        return ["the body must be an object"]
    problems = []
    for key in ("provider", "model"):
        if not isinstance(body.get(key), str) or not body[key]:
            problems.append(f"{key} is required")
    problems += template_problems(body.get("input"), "input")
    problems += template_problems(body.get("output"), "output")
    start, end = body.get("request_start_time"), body.get("request_end_time")
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        problems.append("request_start_time and request_end_time must be epoch seconds")
    elif end < start:
        problems.append("request_end_time is before request_start_time")
    for key in ("input_tokens", "output_tokens"):
        if not isinstance(body.get(key, 0), int):
            problems.append(f"{key} must be an integer")
    if not isinstance(body.get("price", 0.0), (int, float)):
        problems.append("price must be a number")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        problems.append("metadata must map strings to strings")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append("tags must be a list of strings")
    if body.get("status", "SUCCESS") not in STATUSES:
        problems.append(f"status must be one of {sorted(STATUSES)}")
    for key in ("parameters", "prompt_input_variables"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            problems.append(f"{key} must be an object")
    return problems


class FakePromptLayer(ThreadedFake):
    name = "promptlayer"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def requests_logged(self) -> list[dict[str, Any]]:
        return self.received

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/log-request", self.log_request)

    async def log_request(self, request: web.Request) -> web.Response:
        self.count("requests")
        if request.headers.get("X-API-KEY") != self.api_key:
            return self.refuse("unauthorized", 401, "Invalid API key")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return self.refuse("invalid", 400, f"invalid JSON: {exc}")
        problems = request_problems(body)
        if problems:
            return self.refuse("invalid", 400, "; ".join(problems))
        self.accept(body)
        with self.lock:
            request_id = len(self._received)
        return web.json_response({"id": request_id, "prompt_version": None}, status=201)
