"""The spend storage contract: append what a key spent, read each key's total, read recent entries.

SQLite (`SqliteSpendStore`) is the embedded default; `PostgresSpendStore` serves several hosts with the same
protocol. Every method is async and the callers never await them on a request's path: the ledger writes
from its sink task and reads totals in the background.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SpendEntry:
    """One successful call's cost, as the ledger stores it."""

    request_id: str
    key_id: str  # sha256 hex of the key, or the alias for callers without a key ("anonymous")
    key_alias: str
    model: str  # the public model name the client asked for
    bedrock_model_id: str
    spend: float  # USD
    prompt_tokens: int
    completion_tokens: int
    start_time: float  # time.time()
    end_time: float
    kind: str = "chat"
    estimated: bool = False  # the call was cut short before Bedrock sent its usage: its tokens are estimated

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SpendEntry:
        """A spend_logs row, in the column order both stores select."""
        (request_id, kid, alias, model, model_id, kind, spend, prompt, completion, start, end, estimated) = (
            row
        )
        return cls(
            request_id,
            kid,
            alias,
            model,
            model_id,
            spend,
            prompt,
            completion,
            start,
            end,
            kind,
            bool(estimated),
        )

    def as_row(self) -> tuple[str, str, str, str, str, str, float, int, int, float, float, bool]:
        """The spend_logs row, in LOG_COLUMNS order (the inverse of from_row)."""
        return (
            self.request_id,
            self.key_id,
            self.key_alias,
            self.model,
            self.bedrock_model_id,
            self.kind,
            self.spend,
            self.prompt_tokens,
            self.completion_tokens,
            self.start_time,
            self.end_time,
            self.estimated,
        )


def totals_by_key(entries: list[SpendEntry]) -> dict[str, tuple[str, float, float]]:
    """key_id -> (alias, spend to add, time of the latest entry): one key_spend upsert per key and batch."""
    per_key: dict[str, tuple[str, float, float]] = {}
    for entry in entries:
        _, spent, _ = per_key.get(entry.key_id, (entry.key_alias, 0.0, 0.0))
        per_key[entry.key_id] = (entry.key_alias, spent + entry.spend, entry.end_time)
    return per_key


LOG_COLUMNS = (
    "request_id, key_id, key_alias, model, bedrock_model_id, kind, spend, prompt_tokens, completion_tokens,"
    " start_time, end_time, estimated"
)  # the order SpendEntry.from_row reads


def insert_logs_sql(placeholder: str) -> str:
    """INSERT of one spend_logs row, with the driver's parameter placeholder (`?` or `%s`)."""
    values = ", ".join([placeholder] * len(LOG_COLUMNS.split(",")))
    return f"INSERT INTO spend_logs ({LOG_COLUMNS}) VALUES ({values})"


def logs_query(
    placeholder: str, *, key_id: str | None, since: float | None, limit: int
) -> tuple[str, list[Any]]:
    """The spend_logs query both stores run, with their driver's parameter placeholder (`?` or `%s`)."""
    where: list[str] = []
    args: list[Any] = []
    if key_id is not None:
        where.append(f"key_id = {placeholder}")
        args.append(key_id)
    if since is not None:
        where.append(f"end_time >= {placeholder}")
        args.append(since)
    sql = f"SELECT {LOG_COLUMNS} FROM spend_logs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(limit)
    return sql + f" ORDER BY end_time DESC LIMIT {placeholder}", args


class SpendStore(Protocol):
    async def open(self) -> None:
        """Create the schema if needed; raise SpendStoreError with advice when the store cannot be used."""
        ...

    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        """Add the entries to their keys' totals (and to the logs when keep_logs), all or nothing."""
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


class SpendStoreError(ValueError):
    """The store cannot be used; the message says what to change (a ValueError: start-up reports it)."""
