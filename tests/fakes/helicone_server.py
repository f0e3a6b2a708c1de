"""A local Helicone logging API keeping the documented contract, for tests.

POST /custom/v1/log (and /oai/v1/log, /anthropic/v1/log, which take the same body): "Authorization: Bearer
<key>" -> 401 otherwise; the body is checked against Helicone's published HeliconeAsyncLogRequest type
(providerRequest {url, json, meta: string map}, providerResponse {headers: string map, status: integer,
json?, textBody?}, timing? {startTime, endTime: {seconds, milliseconds}, timeToFirstToken?}) -> 400 with the
problems otherwise. Each accepted log is kept with its Helicone-* request headers in `logs`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.threaded import ThreadedFake


def _string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _time_point(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("seconds"), int)
        and isinstance(value.get("milliseconds"), int)
        and 0 <= value["milliseconds"] < 1000
    )


def log_problems(body: Any) -> list[str]:
    """Why a body breaks HeliconeAsyncLogRequest (empty when it is fine)."""
    if not isinstance(body, dict):
        return ["the body must be an object"]
    problems = []
    request, response, timing = body.get("providerRequest"), body.get("providerResponse"), body.get("timing")
    if not isinstance(request, dict):
        problems.append("providerRequest is required")
    else:
        if not isinstance(request.get("url"), str):
            problems.append("providerRequest.url must be a string")
        if not isinstance(request.get("json"), dict):
            problems.append("providerRequest.json must be an object")
        if "meta" in request and not _string_map(request["meta"]):
            problems.append("providerRequest.meta must map strings to strings")
    if not isinstance(response, dict):
        problems.append("providerResponse is required")
    else:
        if not isinstance(response.get("status"), int):
            problems.append("providerResponse.status must be an integer")
        if "headers" in response and not _string_map(response["headers"]):
            problems.append("providerResponse.headers must map strings to strings")
        if response.get("json") is not None and not isinstance(response["json"], dict):
            problems.append("providerResponse.json must be an object")
        if response.get("textBody") is not None and not isinstance(response["textBody"], str):
            problems.append("providerResponse.textBody must be a string")
    if timing is not None:
        if not isinstance(timing, dict):
            problems.append("timing must be an object")
        else:
            if not _time_point(timing.get("startTime")) or not _time_point(timing.get("endTime")):
                problems.append("timing.startTime and timing.endTime need integer seconds and milliseconds")
            ttft = timing.get("timeToFirstToken")
            if ttft is not None and (not isinstance(ttft, (int, float)) or ttft < 0):
                problems.append("timing.timeToFirstToken must be a non-negative number of milliseconds")
    return problems


class FakeHelicone(ThreadedFake):
    name = "helicone"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def logs(self) -> list[dict[str, Any]]:
        return self.received

    def routes(self, app: web.Application) -> None:
        for path in ("/custom/v1/log", "/oai/v1/log", "/anthropic/v1/log"):
            app.router.add_post(path, self.log)

    async def log(self, request: web.Request) -> web.Response:
        self.count("requests")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.refuse("unauthorized", 401, "Invalid API key")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return self.refuse("invalid", 400, f"invalid JSON: {exc}")
        problems = log_problems(body)
        if problems:
            return self.refuse("invalid", 400, "; ".join(problems))
        helicone = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("helicone-")}
        self.accept({"path": request.path, "body": body, "headers": helicone})
        return web.json_response({"ok": True})
