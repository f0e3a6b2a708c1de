"""One database connection on one dedicated thread, for any of the three drivers.

Every call runs on the store's own thread, so the event loop that serves requests never waits on the disk
or the network, and one connection is never used by two threads. Each call is one transaction: committed
when the function returns, rolled back when it raises. A lost connection is reopened on the next call (and
the schema migrated if needed); the error in between is a StoreError naming the database, never its
password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from bedrock_proxy.control.migrations import Cursor, migrate
from bedrock_proxy.control.sql import Dialect
from bedrock_proxy.control.store import Conflict, StoreError

T = TypeVar("T")
log = logging.getLogger("bedrock_proxy.control")


class Driver(Protocol):
    """What differs between sqlite3, psycopg and mysql.connector: connecting, and reading their errors."""

    dialect: Dialect
    where: str  # the database as an operator names it: a path, or user@host:port/db (no password)
    errors: tuple[type[BaseException], ...]  # the driver's errors (StoreError with the reason)
    integrity_errors: tuple[type[BaseException], ...]  # a unique value taken

    def connect(self) -> Any:
        """An autocommit connection with the session set up; raises one of `errors`."""
        ...

    def cursor(self, conn: Any) -> Cursor: ...

    def alive(self, conn: Any) -> bool: ...

    def unreachable(self, exc: BaseException) -> str:
        """Why the database cannot be used and what to change, for start-up and doctor."""
        ...

    def reason(self, exc: BaseException) -> str:
        """The error's text, one line, with no secret."""
        ...


class Database:
    def __init__(self, driver: Driver, thread_name: str) -> None:
        self.driver = driver
        self.dialect = driver.dialect
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._conn: Any = None
        self._opened = False

    @property
    def where(self) -> str:
        return self.driver.where

    # ------------------------------------------------------------------ on the store's thread
    def _usable(self) -> Any:
        conn = self._conn
        if conn is None or not self.driver.alive(conn):
            self._drop()
            try:
                conn = self.driver.connect()
                try:
                    self._transaction(conn, lambda cur: migrate(cur, self.dialect), self.dialect.begin_write)
                except BaseException:
                    conn.close()
                    raise
            except self.driver.errors as exc:
                raise StoreError(self.driver.unreachable(exc)) from None
            self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing a broken connection failed", exc_info=True)
            self._conn = None

    def _transaction(self, conn: Any, fn: Callable[[Cursor], T], begin: str) -> T:
        cur = self.driver.cursor(conn)
        cur.execute(begin)
        try:
            result = fn(cur)
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except self.driver.errors:
                self._drop()
            raise
        cur.execute("COMMIT")
        return result

    def run_sync(self, fn: Callable[[Cursor], T], *, write: bool = True) -> T:
        """`fn` in one transaction, from the calling thread (start-up checks and the store's thread)."""
        conn = self._usable()
        begin = self.dialect.begin_write if write else self.dialect.begin_read
        try:
            return self._transaction(conn, fn, begin)
        except self.driver.integrity_errors as exc:
            raise Conflict("unique value", self.driver.reason(exc)) from None
        except self.driver.errors as exc:
            if not self.driver.alive(conn):
                self._drop()
            raise StoreError(f"database {self.where}: {self.driver.reason(exc)}") from None

    # ------------------------------------------------------------------ async
    async def call(self, fn: Callable[[Cursor], T], *, write: bool = True) -> T:
        if not self._opened:
            raise StoreError(f"the store on {self.where} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: self.run_sync(fn, write=write))

    def check(self) -> None:
        """Connect and migrate once, from the calling thread: start-up fails here, with advice."""
        self._usable()
        self._drop()

    async def open(self) -> None:
        if not self._opened:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._usable)
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await asyncio.get_running_loop().run_in_executor(self._thread, self._drop)
        self._thread.shutdown(wait=False)
