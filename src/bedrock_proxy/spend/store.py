"""The spend storage contract: count what a key spent, read each key's total, read recent entries.

The stores are the control plane's (control/sqlstore.py on SQLite, PostgreSQL or MySQL/MariaDB), so the
ledger, budgets and reports share one schema. Every method is async and the callers never await them on a
request's path: the ledger writes from its sink task and reads totals in the background.
"""

from __future__ import annotations

from typing import Protocol

from bedrock_proxy.control.records import SpendEntry
from bedrock_proxy.control.store import StoreError

# the store cannot be used; the message says what to change (a ValueError: start-up reports it)
SpendStoreError = StoreError

__all__ = ["SpendEntry", "SpendStore", "SpendStoreError"]


class SpendStore(Protocol):
    async def open(self) -> None:
        """Migrate the schema if needed; raise SpendStoreError with advice when the store cannot be used."""
        ...

    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        """Count each entry once by request_id (a retried batch adds nothing twice), all or nothing."""
        ...

    async def totals(self) -> dict[str, float]:
        """key_id -> USD spent over the key's life."""
        ...

    async def logs(
        self, *, key_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[SpendEntry]:
        """The most recent entries first."""
        ...

    async def close(self) -> None: ...
