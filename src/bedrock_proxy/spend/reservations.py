"""Budget reservations: each admitted call sets its maximum cost aside before it is sent, and gives it back
when its real cost is counted, so concurrent calls cannot all pass a budget check that only one would pass.

`Reservations` is the interface the key guard uses; `LocalReservations` keeps the book in this process.
A store shared by every process (Redis, PostgreSQL) can implement the same four methods.
"""

from __future__ import annotations

from typing import Protocol


class Reservation(Protocol):
    """One call's money set aside; `settle()` gives it back (idempotent), once its real cost is counted."""

    key_id: str
    amount: float

    def settle(self) -> None: ...


class Reservations(Protocol):
    def reserved(self, key_id: str) -> float:
        """USD set aside by this key's calls in flight."""
        ...

    def reserve(self, key_id: str, amount: float) -> Reservation:
        """Set `amount` aside for one call of `key_id` (the caller checked the budget first)."""
        ...


class _LocalReservation:
    __slots__ = ("_book", "amount", "key_id")

    def __init__(self, book: LocalReservations, key_id: str, amount: float) -> None:
        self._book: LocalReservations | None = book
        self.key_id = key_id
        self.amount = amount

    def settle(self) -> None:
        book, self._book = self._book, None
        if book is not None:
            book.release(self.key_id, self.amount)


class LocalReservations:
    """The book of one process: key_id -> USD reserved by its calls in flight here."""

    def __init__(self) -> None:
        self._reserved: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def reserved(self, key_id: str) -> float:
        return self._reserved.get(key_id, 0.0)

    def reserve(self, key_id: str, amount: float) -> Reservation:
        self._reserved[key_id] = self._reserved.get(key_id, 0.0) + amount
        self._count[key_id] = self._count.get(key_id, 0) + 1
        return _LocalReservation(self, key_id, amount)

    def release(self, key_id: str, amount: float) -> None:
        left = self._count.get(key_id, 0) - 1
        if left <= 0:  # the last one out leaves exactly zero, whatever float rounding did meanwhile
            self._reserved.pop(key_id, None)
            self._count.pop(key_id, None)
            return
        self._count[key_id] = left
        self._reserved[key_id] = max(self._reserved[key_id] - amount, 0.0)
