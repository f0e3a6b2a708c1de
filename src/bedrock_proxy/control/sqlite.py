"""The SQLite driver (stdlib sqlite3): the embedded default, one file, WAL mode.

WAL lets several gateway workers on one host read while one of them writes; `busy_timeout` makes a writer
wait for another instead of failing at once; BEGIN IMMEDIATE takes the write lock before reading, so two
writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.migrations import Cursor
from bedrock_proxy.control.sql import SQLITE
from bedrock_proxy.control.store import StoreError

BUSY_TIMEOUT_MS = 5000


def sqlite_path(url: str) -> str:
    """`sqlite:///relative.db` -> relative.db, `sqlite:////abs/x.db` -> /abs/x.db (SQLAlchemy's way)."""
    rest = url.split("://", 1)[1] if "://" in url else url.split(":", 1)[1]
    rest = rest.split("?", 1)[0]
    if rest.startswith("/"):
        rest = rest[1:]
    if not rest:
        raise StoreError(
            f"database_url {url!r} names no file: use sqlite:///relative.db or sqlite:////abs.db"
        )
    return rest


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """Switching a new file to WAL needs it to itself, and SQLite may answer "locked" at once, without
    waiting busy_timeout, while other processes open it too (gateways starting together): try again."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class SqliteDriver:
    dialect = SQLITE
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.where = self.path

    def connect(self) -> sqlite3.Connection:
        # isolation_level None: the store says BEGIN and COMMIT itself, the same way on every database
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _switch_to_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            db.close()
            raise
        return db

    def cursor(self, conn: Any) -> Cursor:
        cursor: Cursor = conn.cursor()
        return cursor

    def alive(self, conn: Any) -> bool:
        return True  # a file does not go away under an open connection

    def reason(self, exc: BaseException) -> str:
        return str(exc) or type(exc).__name__

    def unreachable(self, exc: BaseException) -> str:
        return (
            f"cannot open the database {self.path!r} ({self.reason(exc)}). Point DATABASE_URL (or "
            "general_settings.database_url) at a file in a writable directory, e.g. "
            "sqlite:////var/lib/bedrock-proxy/bedrock-proxy.db, or remove spend_limit from api_keys"
        )


def sqlite_database(path: str | Path, thread_name: str = "db-sqlite") -> Database:
    return Database(SqliteDriver(path), thread_name)
