"""In-process response cache: an LRU bounded in entries and bytes, each entry with its own expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class LocalCache:
    """One worker's cache. Entries are immutable bytes, so a hit can never be changed by the request that
    read it; the least recently used entries go first when either bound is reached."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._counts = {"hits": 0, "misses": 0, "stores": 0, "evictions": 0, "errors": 0}

    async def start(self) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self._counts["misses"] += 1
            return None
        expires, value = entry
        if expires <= self._clock():
            self._remove(key)
            self._counts["misses"] += 1
            return None
        self._entries.move_to_end(key)
        self._counts["hits"] += 1
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        size = len(key) + len(value)
        if ttl <= 0 or size > self.max_bytes:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = (self._clock() + ttl, value)
        self._bytes += size
        self._counts["stores"] += 1
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self._counts["evictions"] += 1

    def _remove(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(key) + len(value)

    async def aclose(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def stats(self) -> dict[str, int]:
        return {**self._counts, "entries": len(self._entries), "bytes": self._bytes}
