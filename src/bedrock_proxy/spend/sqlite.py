"""SpendStore on SQLite (stdlib sqlite3): one connection on one dedicated thread, WAL mode.

WAL lets several gateway workers on one host read totals while one of them writes; `busy_timeout` makes a
writer wait for another instead of failing at once. All I/O happens on the store's own thread, so the event
loop that serves requests never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from bedrock_proxy.spend.store import SpendEntry, SpendStoreError, insert_logs_sql, logs_query, totals_by_key

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend_logs (
    request_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_alias TEXT NOT NULL,
    model TEXT NOT NULL,
    bedrock_model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    spend REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL NOT NULL,
    estimated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS spend_logs_by_time ON spend_logs (end_time);
CREATE INDEX IF NOT EXISTS spend_logs_by_key ON spend_logs (key_id, end_time);
CREATE TABLE IF NOT EXISTS key_spend (
    key_id TEXT PRIMARY KEY,
    key_alias TEXT NOT NULL,
    spend REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    response_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    response TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);
"""


def sqlite_path(url: str) -> str:
    """`sqlite:///relative.db` -> relative.db, `sqlite:////abs/x.db` -> /abs/x.db (SQLAlchemy's way)."""
    rest = url.split("://", 1)[1] if "://" in url else url.split(":", 1)[1]
    rest = rest.split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise SpendStoreError(
            f"database_url {url!r} names no file: use sqlite:///relative.db or sqlite:////abs.db"
        )
    return rest


class SqliteSpendStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spend-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._with_db, fn)

    def _with_db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise SpendStoreError("the spend store is not open")
        return fn(self._db)

    # ------------------------------------------------------------------ lifecycle
    def open_sync(self) -> None:
        """Open (creating the file and schema) from the calling thread: start-up checks use this."""
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            try:
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.executescript(_SCHEMA)
                _add_missing_columns(db)
                db.commit()
            except BaseException:
                db.close()
                raise
        except sqlite3.Error as exc:
            raise SpendStoreError(
                f"cannot open the spend database {self.path!r} ({exc}). Point DATABASE_URL (or "
                "general_settings.database_url) at a file in a writable directory, e.g. "
                "sqlite:////var/lib/bedrock-proxy/bedrock-proxy.db, or remove spend_limit from api_keys"
            ) from None
        self._db = db

    def check(self) -> None:
        """Open and close once, so a start-up with an unusable file fails before serving, with advice."""
        self.open_sync()
        self._db.close()  # type: ignore[union-attr]
        self._db = None

    async def open(self) -> None:
        if self._db is None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self.open_sync)

    async def close(self) -> None:
        if self._db is not None:
            await self._call(lambda db: db.close())
            self._db = None
        self._thread.shutdown(wait=False)

    # ------------------------------------------------------------------ writes and reads
    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        if entries:
            await self._call(lambda db: _record(db, entries, keep_logs))

    async def totals(self) -> dict[str, float]:
        return await self._call(lambda db: dict(db.execute("SELECT key_id, spend FROM key_spend").fetchall()))

    async def logs(
        self, *, key_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[SpendEntry]:
        sql, args = logs_query("?", key_id=key_id, since=since, limit=limit)
        rows = await self._call(lambda db: db.execute(sql, args).fetchall())
        return [SpendEntry.from_row(row) for row in rows]


# columns added after the first release: a file written by an older gateway gets them at start-up
_ADDED_COLUMNS = {"estimated": "INTEGER NOT NULL DEFAULT 0"}


def _add_missing_columns(db: sqlite3.Connection) -> None:
    present = {row[1] for row in db.execute("PRAGMA table_info(spend_logs)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in present:
            db.execute(f"ALTER TABLE spend_logs ADD COLUMN {name} {definition}")


def _record(db: sqlite3.Connection, entries: list[SpendEntry], keep_logs: bool) -> None:
    per_key = totals_by_key(entries)
    with db:  # one transaction: the logs and the totals move together
        if keep_logs:
            db.executemany(
                insert_logs_sql("?"),
                [entry.as_row() for entry in entries],
            )
        db.executemany(
            "INSERT INTO key_spend (key_id, key_alias, spend, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key_id) DO UPDATE SET spend = spend + excluded.spend,"
            " key_alias = excluded.key_alias, updated_at = excluded.updated_at",
            [(kid, alias, spent, when) for kid, (alias, spent, when) in per_key.items()],
        )
