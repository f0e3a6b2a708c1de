"""Budget reservations: each admitted call sets its maximum cost aside before it is sent, and gives it back
when its real cost is counted, so concurrent calls cannot all pass a budget check that only one would pass.

`Reservations` is the interface the key guard uses. The wiring hands it the router's shared store
(router/state.py `BudgetReservations`: in process, the host's SQLite file or Redis), so the calls of every
worker and host reserve against one book; `LocalReservations` is the book of one process, for a guard built
without a store.
"""

from __future__ import annotations

from typing import Protocol


class Reservation(Protocol):
    """One call's money set aside; `settle(cost)` gives it back and counts the call's real cost (idempotent),
    once that cost is known (the call's record was submitted)."""

    key_id: str
    amount: float

    def settle(self, cost: float = 0.0) -> None: ...


# (the reservation, or None when the budget refused it; the key's spend and what was reserved before it)
Booked = tuple[Reservation | None, float, float]


def allows(spent: float, reserved: float, amount: float, limit: float) -> bool:
    """Nothing once spent + reserved reach the limit; a call beside others in flight only if its own maximum
    fits too (a lone call goes while spend is below the limit: the only one that can pass it)."""
    if spent + reserved >= limit:
        return False
    return reserved <= 0 or spent + reserved + amount <= limit


class Reservations(Protocol):
    def reserved(self, key_id: str) -> float:
        """USD set aside by this process's calls of the key in flight (a quick check before the body)."""
        ...

    async def reserve(
        self, key_id: str, amount: float, limit: float, spent: float, period: str = ""
    ) -> Booked:
        """Check the budget (`allows`) with every process's reservations and set `amount` aside in one
        step; `spent` is what this process's ledger says the key spent in the budget's current `period`
        (a budget that resets must name each period: the store's count of a period never goes down)."""
        ...

    async def drain(self) -> None:
        """At shutdown: wait for the settlements still being written (a lost one holds money to its TTL)."""
        ...


class _LocalReservation:
    __slots__ = ("_book", "amount", "key_id")

    def __init__(self, book: LocalReservations, key_id: str, amount: float) -> None:
        self._book: LocalReservations | None = book
        self.key_id = key_id
        self.amount = amount

    def settle(self, cost: float = 0.0) -> None:
        book, self._book = self._book, None
        if book is not None:
            book.release(self.key_id, self.amount)


class LocalReservations:
    """One process's book: key_id -> USD reserved by its calls in flight here (the ledger counts costs)."""

    def __init__(self) -> None:
        self._reserved: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def reserved(self, key_id: str) -> float:
        return self._reserved.get(key_id, 0.0)

    async def reserve(
        self, key_id: str, amount: float, limit: float, spent: float, period: str = ""
    ) -> Booked:
        reserved = self.reserved(key_id)
        if not allows(spent, reserved, amount, limit):
            return None, spent, reserved
        self._reserved[key_id] = reserved + amount
        self._count[key_id] = self._count.get(key_id, 0) + 1
        return _LocalReservation(self, key_id, amount), spent, reserved

    async def drain(self) -> None:
        return None

    def release(self, key_id: str, amount: float) -> None:
        left = self._count.get(key_id, 0) - 1
        if left <= 0:  # the last one out leaves exactly zero, whatever float rounding did meanwhile
            self._reserved.pop(key_id, None)
            self._count.pop(key_id, None)
            return
        self._count[key_id] = left
        self._reserved[key_id] = max(self._reserved[key_id] - amount, 0.0)
