"""An event stream with events read ahead put back in front, so the router can look past a stream's
first event (to see an error before anything reached the client) without losing it."""

from __future__ import annotations

from typing import Any


class Prepended:
    """Yields `first`, then the rest of `events`; closing it closes `events` even if never iterated."""

    __slots__ = ("_events", "_first")

    def __init__(self, first: Any, events: Any) -> None:
        self._first = first
        self._events = events

    def __aiter__(self) -> Prepended:
        return self

    async def __anext__(self) -> Any:
        first = self._first
        if first is not None:
            self._first = None
            return first
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()
