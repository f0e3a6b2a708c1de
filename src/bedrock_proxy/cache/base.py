"""The one interface both response caches keep, so the handlers never know which one is configured."""

from __future__ import annotations

from typing import Protocol


class ResponseCache(Protocol):
    """Bytes by key, each entry with its own lifetime.

    A cache never raises on the request path: a backend that fails answers `get` with None (a miss) and
    drops the `set`, and counts it in `stats`.
    """

    async def start(self) -> None:
        """Connect (or check the connection); a backend that is unreachable logs and keeps going."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aclose(self) -> None: ...

    def stats(self) -> dict[str, int]:
        """Counters for /metrics and tests: hits, misses, stores, errors, ..."""
        ...
