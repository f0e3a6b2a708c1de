"""The spend ledger: a sink that writes costed CallRecords to the SpendStore, and the per-key totals budgets
are checked against.

Totals live in memory so a budget check is a dict lookup. For each key:
    spent = what the store said at its last read (plus what this process wrote since)
          + what this process noted but has not written yet.
`note` runs on the request path when the record is submitted (two dict operations); `send_batch` runs in the
dispatcher's background task. Every `refresh_seconds` the totals are re-read from the store, so with several
workers, or gateways sharing one SQLite file or PostgreSQL database, each sees the others' spend within that
lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable

from bedrock_proxy.keys import ANONYMOUS_ID
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import RetryableSinkError
from bedrock_proxy.spend.store import SpendEntry, SpendStore, SpendStoreError

log = logging.getLogger("bedrock_proxy.spend")

DEFAULT_REFRESH_SECONDS = 2.0


def charged(record: CallRecord) -> bool:
    """A record the key pays for: every answered call, and a failed one that Bedrock produced tokens for
    before it ended (a client that left mid-stream: its cost is then estimated, and still counted)."""
    if record.cost is None:
        return False
    return record.status < 400 or record.cost > 0


class SpendLedger:
    name = "spend"
    max_batch = 500

    def __init__(
        self,
        store: SpendStore,
        *,
        keep_logs: bool = True,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.keep_logs = keep_logs
        self.refresh_seconds = refresh_seconds
        self._stored: dict[str, float] = {}
        self._unwritten: dict[str, float] = {}
        self._lock: asyncio.Lock | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._refresh_failing = False
        # told (request id, start time) of each call of a batch once it is committed (the key directory's
        # budgets): the ledger's own identity of a call, since a client may reuse its x-request-id
        self.on_written: list[Callable[[Iterable[tuple[str, float]]], None]] = []

    # ------------------------------------------------------------------ request path
    def note(self, record: CallRecord) -> None:
        """Count a record's cost at once (called when the record is submitted; never blocks)."""
        if record.cost is None or not charged(record):
            return
        kid = record.api_key_id or ANONYMOUS_ID
        self._unwritten[kid] = self._unwritten.get(kid, 0.0) + record.cost

    def spent(self, key_id: str) -> float:
        return self._stored.get(key_id, 0.0) + self._unwritten.get(key_id, 0.0)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the store and load every key's total before the first request is served."""
        self._lock = asyncio.Lock()
        await self.store.open()
        self._stored = await self.store.totals()
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_loop(), name="spend:refresh")

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await self.store.close()

    # ------------------------------------------------------------------ background
    def _entry(self, record: CallRecord) -> SpendEntry | None:
        if record.cost is None or not charged(record):
            return None
        return SpendEntry(
            request_id=record.request_id,
            key_id=record.api_key_id or ANONYMOUS_ID,
            key_alias=record.api_key_alias or ANONYMOUS_ID,
            model=record.model_group,
            bedrock_model_id=record.bedrock_model_id,
            spend=record.cost,
            prompt_tokens=record.usage.prompt_tokens,
            completion_tokens=record.usage.completion_tokens,
            start_time=record.start_time,
            end_time=record.end_time,
            kind=record.kind,
            estimated=record.usage_estimated,
        )

    async def send_batch(self, records: list[CallRecord]) -> None:
        entries = [entry for entry in map(self._entry, records) if entry is not None]
        if not entries:
            return
        async with self._guard():
            try:
                await self.store.record(entries, keep_logs=self.keep_logs)
            except (sqlite3.Error, SpendStoreError, OSError) as exc:
                raise RetryableSinkError(f"spend: {type(exc).__name__}: {exc}") from exc
            for entry in entries:  # now in the store: move from unwritten to stored
                kid = entry.key_id
                self._unwritten[kid] = self._unwritten.get(kid, 0.0) - entry.spend
                self._stored[kid] = self._stored.get(kid, 0.0) + entry.spend
            for listener in self.on_written:
                listener([(entry.request_id, entry.start_time) for entry in entries])

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def refresh(self) -> None:
        """Replace the stored totals with the store's (which include what other workers wrote)."""
        async with self._guard():
            self._stored = await self.store.totals()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # keep enforcing from memory; say so once per outage
                if not self._refresh_failing:
                    log.warning("spend: cannot re-read totals from the store (%s); using local totals", exc)
                self._refresh_failing = True
            else:
                if self._refresh_failing:
                    log.info("spend: totals re-read from the store again")
                self._refresh_failing = False
