"""GET /health/models makes real Bedrock calls (one per deployment), so its results are reused: computed at
most once every `reuse_seconds`, and callers arriving while a round of probes runs wait for that round
instead of starting another. However often it is called, Bedrock sees at most one round per period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
DeepHealth = tuple[int, dict[str, Any]]  # GET /health/models' status and body

# BEDROCK_PROXY_HEALTH_MODELS_CACHE_SECONDS: how long one round of probes answers GET /health/models
DEFAULT_HEALTH_REUSE_SECONDS = 60.0


class DeepHealthCache(Generic[T]):
    def __init__(self, reuse_seconds: float = DEFAULT_HEALTH_REUSE_SECONDS) -> None:
        self.reuse_seconds = reuse_seconds
        self._result: T | None = None
        self._at = 0.0  # time.monotonic() the cached result was computed
        self._round: asyncio.Task[T] | None = None

    async def get(self, compute: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        """The latest result and its age in seconds; `compute` runs only when none is fresh enough."""
        now = time.monotonic()
        if self._result is not None and now - self._at < self.reuse_seconds:
            return self._result, now - self._at
        if self._round is None:
            self._round = asyncio.ensure_future(self._run(compute))
        # shielded: a caller that leaves does not cancel the round the others wait for
        result = await asyncio.shield(self._round)
        return result, time.monotonic() - self._at

    async def _run(self, compute: Callable[[], Awaitable[T]]) -> T:
        """One round; its result and time are kept before any waiter reads them."""
        try:
            result = await compute()
            self._result, self._at = result, time.monotonic()
            return result
        finally:
            self._round = None
