"""Response cache in Redis, shared by every worker and host that points at the same server.

Caching is an optimisation, never a dependency: every operation is bounded by a small timeout, an error is a
miss (counted, logged at most once a minute), and after an error Redis is left alone for a second so that a
server that is down or slow costs the requests nothing while it recovers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

logger = logging.getLogger("bedrock_proxy.cache")

DEFAULT_TIMEOUT = 0.5  # seconds per operation, connection included
DEFAULT_MAX_CONNECTIONS = 64
RETRY_INTERVAL = 1.0  # seconds Redis is bypassed after an error
LOG_INTERVAL = 60.0  # at most one warning per minute


class RedisCache:
    """One pooled `redis.asyncio` client; keys are `{namespace}:{key}`, values the cached bytes."""

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        url: str | None = None,
        namespace: str = "bedrock-proxy",
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        retry_interval: float = RETRY_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "max_connections": max_connections,
            "timeout": timeout,  # how long to wait for a free pooled connection
        }
        if url:
            pool = aioredis.BlockingConnectionPool.from_url(url, **options)
            self.target = _without_password(url)
        else:
            pool = aioredis.BlockingConnectionPool(
                host=host or "localhost", port=port or 6379, password=password, **options
            )
            self.target = f"{host or 'localhost'}:{port or 6379}"
        self.pool = pool
        self.client = aioredis.Redis(connection_pool=pool)
        self.prefix = f"{namespace}:"
        self.timeout = timeout
        self.retry_interval = retry_interval
        self._clock = clock
        self._bypass_until = 0.0
        self._last_log = -LOG_INTERVAL
        self._unlogged = 0
        self._counts = {"hits": 0, "misses": 0, "stores": 0, "errors": 0, "bypassed": 0}

    async def start(self) -> None:
        """Check the server once: unreachable is a warning, the gateway serves without the cache meanwhile."""
        try:
            async with asyncio.timeout(max(self.timeout, 2.0)):
                await self.client.ping()
        except Exception as exc:  # any failure means "not now"
            self._counts["errors"] += 1
            self._bypass_until = self._clock() + self.retry_interval
            logger.warning(
                "the Redis response cache at %s is unreachable (%s): serving without the cache until it"
                " answers",
                self.target,
                _describe(exc),
            )

    async def get(self, key: str) -> bytes | None:
        if self._bypassed():
            return None
        try:
            async with asyncio.timeout(self.timeout):
                value = await self.client.get(self.prefix + key)
        except Exception as exc:  # a cache failure is a miss, never a failed request
            self._failed("read", exc)
            return None
        self._counts["hits" if value is not None else "misses"] += 1
        # redis-py types get() as bytes | str | None whatever the client; without decode_responses it is bytes
        return value  # type: ignore[return-value]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if ttl <= 0 or self._bypassed():
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.set(self.prefix + key, value, px=max(int(ttl * 1000), 1))
        except Exception as exc:
            self._failed("write", exc)
            return
        self._counts["stores"] += 1

    def _bypassed(self) -> bool:
        if self._bypass_until and self._clock() < self._bypass_until:
            self._counts["bypassed"] += 1
            return True
        return False

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._counts["errors"] += 1
        self._unlogged += 1
        now = self._clock()
        self._bypass_until = now + self.retry_interval
        if now - self._last_log >= LOG_INTERVAL:
            logger.warning(
                "Redis response cache at %s failed a %s (%s); %d cache error(s) since the last warning,"
                " served as misses. Next warning in a minute at the earliest.",
                self.target,
                operation,
                _describe(exc),
                self._unlogged,
            )
            self._last_log = now
            self._unlogged = 0

    async def aclose(self) -> None:
        try:
            close = getattr(self.client, "aclose", None) or self.client.close  # aclose: redis >= 5.0.1
            await close()
            await self.pool.disconnect()
        except Exception as exc:  # shutting down: nothing left to protect
            logger.debug("closing the Redis cache client failed: %s", exc)

    def stats(self) -> dict[str, int]:
        return dict(self._counts)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _without_password(url: str) -> str:
    head, sep, tail = url.partition("://")
    if sep and "@" in tail.split("/", 1)[0]:
        return f"{head}://{tail.split('@', 1)[1]}"
    return url
