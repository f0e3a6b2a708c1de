"""Per-request cache controls, as LiteLLM reads them: the body's `cache` object and `Cache-Control`.

Body: `"cache": {"no-cache": true}` skips the read, `{"no-store": true}` skips the write, `{"ttl": 60}`
stores for that long, `{"s-maxage": 30}` accepts only an answer stored at most that long ago.
Header: `Cache-Control: no-cache`, `no-store`, `max-age=N` / `s-maxage=N` mean the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bedrock_proxy.errors import invalid_request


@dataclass(frozen=True, slots=True)
class CacheControl:
    read: bool = True
    write: bool = True
    ttl: float | None = None  # None: the configured ttl
    max_age: float | None = None  # None: any unexpired answer


def cache_control(body: dict[str, Any], header: str | None) -> CacheControl:
    """The request's controls; a malformed `cache` object is a 400 that says what to send."""
    read = write = True
    ttl = max_age = None
    raw = body.get("cache")
    if raw is not None:
        if not isinstance(raw, dict):
            raise invalid_request(
                '\'cache\' must be an object such as {"no-cache": true}, {"no-store": true} or {"ttl": 600}.',
                "cache",
            )
        read = not _flag(raw, "no-cache")
        write = not _flag(raw, "no-store")
        ttl = _seconds(raw, "ttl")
        max_age = _seconds(raw, "s-maxage")
    if header:
        for directive in header.lower().split(","):
            name, _, value = directive.strip().partition("=")
            if name == "no-cache":
                read = False
            elif name == "no-store":
                write = False
            elif name in ("max-age", "s-maxage") and value.strip().isdigit():
                max_age = float(value.strip())
    return CacheControl(read, write, ttl, max_age)


def _flag(raw: dict[str, Any], name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise invalid_request(f"'cache.{name}' must be true or false.", f"cache.{name}")
    return value


def _seconds(raw: dict[str, Any], name: str) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise invalid_request(f"'cache.{name}' must be a number of seconds, 0 or more.", f"cache.{name}")
    return float(value)
