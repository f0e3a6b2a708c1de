"""The router's shared counters behind one small interface: minute windows, in-flight slots, cooldowns.

`InMemoryCounterStore` serves one gateway process. A Redis store for several processes implements the same
`CounterStore` protocol. The protocol is synchronous on purpose: the router consults it several times per
request while choosing a deployment, and the hot path must not wait on a network round trip; a Redis store
keeps a local mirror like this one and reconciles it with Redis in the background (LiteLLM does the same).
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

WINDOW_SECONDS = 60


class CounterStore(Protocol):
    def add(self, key: str, amount: float, now: float) -> float:
        """Add `amount` (may be negative) to the key's sliding minute window; return the window's total."""
        ...

    def total(self, key: str, now: float) -> float:
        """What the key counted over the last minute."""
        ...

    def free_in(self, key: str, limit: float, needed: float, now: float) -> float:
        """Seconds until the window has room for `needed` more under `limit` (0 when it has room now)."""
        ...

    def reset(self, key: str) -> None: ...

    def acquire(self, key: str, limit: int | None) -> bool:
        """Take an in-flight slot unless `limit` slots are taken already."""
        ...

    def release(self, key: str) -> None: ...

    def in_flight(self, key: str) -> int: ...

    def cool_down(self, key: str, until: float) -> None: ...

    def cooling_until(self, key: str) -> float:
        """The monotonic time the key's cooldown ends; 0.0 when it is not cooling down."""
        ...


class _MinuteWindow:
    """Per-second buckets over the last minute with a running total: O(1) amortised per update."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[float]] = deque()  # [second, amount], oldest first
        self.total = 0.0

    def expire(self, second: int) -> None:
        buckets = self.buckets
        oldest = second - WINDOW_SECONDS
        while buckets and buckets[0][0] <= oldest:
            self.total -= buckets.popleft()[1]
        if not buckets:
            self.total = 0.0  # no float drift once the window empties

    def add(self, amount: float, now: float) -> float:
        second = int(now)
        self.expire(second)
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += amount
        else:
            buckets.append([second, amount])
        self.total += amount
        return self.total


class InMemoryCounterStore:
    """The default CounterStore: plain dicts, one process, no locks (the event loop is single-threaded)."""

    def __init__(self) -> None:
        self._windows: dict[str, _MinuteWindow] = {}
        self._in_flight: dict[str, int] = {}
        self._cooldowns: dict[str, float] = {}

    def add(self, key: str, amount: float, now: float) -> float:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _MinuteWindow()
        return window.add(amount, now)

    def total(self, key: str, now: float) -> float:
        window = self._windows.get(key)
        if window is None:
            return 0.0
        window.expire(int(now))
        return window.total

    def free_in(self, key: str, limit: float, needed: float, now: float) -> float:
        window = self._windows.get(key)
        if window is None:
            return 0.0
        window.expire(int(now))
        excess = window.total + needed - limit
        if excess <= 0:
            return 0.0
        for second, amount in window.buckets:
            excess -= amount
            if excess <= 0:
                return max(second + WINDOW_SECONDS - now, 0.0)
        return float(WINDOW_SECONDS)  # needs more than the limit: never fits, say a minute

    def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def acquire(self, key: str, limit: int | None) -> bool:
        current = self._in_flight.get(key, 0)
        if limit is not None and current >= limit:
            return False
        self._in_flight[key] = current + 1
        return True

    def release(self, key: str) -> None:
        current = self._in_flight.get(key, 0)
        self._in_flight[key] = current - 1 if current > 0 else 0

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def cool_down(self, key: str, until: float) -> None:
        self._cooldowns[key] = until

    def cooling_until(self, key: str) -> float:
        return self._cooldowns.get(key, 0.0)
