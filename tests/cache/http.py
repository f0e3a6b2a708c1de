"""Raw HTTP for the cache tests: the cache header is the point, so no SDK hides it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

MASTER_KEY = "sk-1234"


def post(url: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """POST JSON with the master key; returns (status, lower-cased headers, JSON or the raw text)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {MASTER_KEY}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, response_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, payload = error.code, error.headers, error.read()
    lowered = {name.lower(): value for name, value in response_headers.items()}
    text = payload.decode()
    try:
        return status, lowered, json.loads(text)
    except json.JSONDecodeError:
        return status, lowered, text


def sse_chunks(text: str) -> list[Any]:
    """The `data:` payloads of an SSE body, `[DONE]` kept as the string."""
    events = []
    for line in text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def upstream_requests(emulator_url: str) -> int:
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=10) as response:
        return json.loads(response.read())["requests"]
