"""What the handlers call: look a request up before the router, store its answer after.

Decisions kept here (docs/caching.md explains them to users):
- only successful answers are stored, never one with finish_reason `content_filter`;
- a hit is the stored answer with the new request's `id` (ids stay unique per request, so logs and traces
  never show two requests under one id); `created`, `usage` and the content are as stored;
- stored entries are `{"stored_at": epoch seconds, "answer": {...}}` as orjson bytes, so `s-maxage` can be
  honoured and Redis entries stay readable with redis-cli.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from bedrock_proxy.cache.base import ResponseCache
from bedrock_proxy.cache.control import CacheControl, cache_control
from bedrock_proxy.cache.keys import response_key
from bedrock_proxy.cache.local import LocalCache
from bedrock_proxy.config.knobs import env_seconds

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

logger = logging.getLogger("bedrock_proxy.cache")

HEADER = b"x-bedrock-proxy-cache"
DEFAULT_TTL = 600.0  # seconds, when neither the config nor the request sets one (LiteLLM's in-memory default)
TIMEOUT_ENV = "BEDROCK_PROXY_CACHE_TIMEOUT_SECONDS"


@dataclass(slots=True)
class Lookup:
    """One request's cache outcome: `hit` (answer set), `miss` (will store) or `skip` (read not allowed)."""

    key: str
    status: str
    control: CacheControl
    answer: dict[str, Any] | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(HEADER, self.status.encode())]


class ResponseCaching:
    def __init__(
        self, backend: ResponseCache, *, ttl: float | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.backend = backend
        self.ttl = DEFAULT_TTL if ttl is None else float(ttl)
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] = os.environ
    ) -> ResponseCaching | None:
        """The configured cache, or None when caching is off (then the handlers do nothing extra)."""
        if not settings.cache:
            return None
        params = settings.cache_params
        backend: ResponseCache
        if params.type == "redis":
            from bedrock_proxy.cache.redis_cache import DEFAULT_TIMEOUT, RedisCache  # only when configured

            backend = RedisCache(
                host=params.host,
                port=params.port,
                password=params.password,
                url=params.url,
                namespace=params.namespace or "bedrock-proxy",
                timeout=env_seconds(environ, TIMEOUT_ENV, DEFAULT_TIMEOUT),
            )
        else:
            backend = LocalCache()
        return cls(backend, ttl=params.ttl)

    async def start(self) -> None:
        await self.backend.start()

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def lookup(self, kind: str, model: str, body: dict[str, Any], cache_header: str | None) -> Lookup:
        control = cache_control(body, cache_header)
        lookup = Lookup(response_key(kind, model, body), "miss", control)
        if not control.read:
            lookup.status = "skip"
            return lookup
        raw = await self.backend.get(lookup.key)
        if raw is None:
            return lookup
        try:
            entry = orjson.loads(raw)
            answer, stored_at = entry["answer"], float(entry["stored_at"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            logger.warning("unreadable cache entry %s ignored", lookup.key)
            return lookup
        if control.max_age is not None and self._clock() - stored_at > control.max_age:
            return lookup
        lookup.status = "hit"
        lookup.answer = answer
        return lookup

    async def store(self, lookup: Lookup, answer: dict[str, Any]) -> bool:
        """Store a successful answer after it was sent; True when it was handed to the backend."""
        if lookup.status == "hit" or not lookup.control.write or not cacheable(answer):
            return False
        ttl = self.ttl if lookup.control.ttl is None else lookup.control.ttl
        if ttl <= 0:
            return False
        value = orjson.dumps({"stored_at": self._clock(), "answer": answer})
        await self.backend.set(lookup.key, value, ttl)
        return True

    def stats(self) -> dict[str, int]:
        return self.backend.stats()


def cacheable(answer: dict[str, Any]) -> bool:
    """A chat answer with choices, none of them filtered; a Responses API response that completed; an
    Anthropic message that was not refused; an embedding answer with data."""
    if answer.get("object") == "response":
        return answer.get("status") == "completed" and bool(answer.get("output"))
    if answer.get("type") == "message":
        return bool(answer.get("content")) and answer.get("stop_reason") != "refusal"
    if "choices" in answer:
        choices = answer["choices"]
        return bool(choices) and all(c.get("finish_reason") != "content_filter" for c in choices)
    return bool(answer.get("data"))
