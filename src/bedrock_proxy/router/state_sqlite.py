"""SharedState in one SQLite file: the worker processes of one host (`serve --num-workers N` without Redis)
share their limits, so N workers never admit N times a limit.

Each operation is one short `BEGIN IMMEDIATE` transaction (the file's write lock serialises the workers, so a
check and its add are atomic), in WAL mode without fsync: the file lives in a temporary directory for as long
as `serve` runs, nothing in it needs to survive a crash. Calls are synchronous: a transaction takes tens of
microseconds, less than handing it to a thread would. When another worker holds the lock, the event loop is
not put to sleep (SQLite's own busy handler sleeps a millisecond or more): the transaction is tried again
after the loop's other work, for up to `busy_timeout` seconds. The clock is the host's wall clock, which
every worker shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from bedrock_proxy.router.state import (
    ADMITTED,
    BUDGET_KEEP_SECONDS,
    COOLING,
    SLOT_REFUSED_WAIT,
    WINDOW_SECONDS,
    Booking,
    Check,
    Choice,
    Option,
    Readings,
    budget_allows,
    free_in,
)

T = TypeVar("T")
SETUP_TIMEOUT = 5.0  # seconds a worker may wait for another to set the file up
SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (key TEXT, second INTEGER, amount REAL, PRIMARY KEY (key, second))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS slots (key TEXT, holder TEXT, expires REAL, PRIMARY KEY (key, holder))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cooldowns (key TEXT PRIMARY KEY, until REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS budgets (key TEXT PRIMARY KEY, spent REAL, kept_until REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations (key TEXT, holder TEXT, amount REAL, expires REAL,
    PRIMARY KEY (key, holder)) WITHOUT ROWID;
"""


class SqliteState:
    def __init__(
        self,
        path: str | Path,
        *,
        lease_seconds: float = 660.0,
        busy_timeout: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.description = f"the host's workers, through {self.path} (no Redis configured)"
        self.lease_seconds = lease_seconds
        self.busy_timeout = busy_timeout
        self.clock = clock
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            # the workers start together: setting the file up may wait for another; then never block
            db = sqlite3.connect(self.path, timeout=SETUP_TIMEOUT, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            db.executescript(SCHEMA)
            db.execute("PRAGMA busy_timeout=0")
            self._db = db
        return self._db

    async def start(self) -> None:
        self._connection()

    async def aclose(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _transaction(self) -> sqlite3.Connection:
        db = self._connection()
        deadline = 0.0
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return db
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                now = time.monotonic()
                if not deadline:
                    deadline = now + self.busy_timeout
                elif now > deadline:
                    raise
            await asyncio.sleep(0)  # another worker holds the lock for microseconds: let this one work

    async def _in_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one write transaction; rolled back on any error (the connection stays usable)."""
        db = await self._transaction()
        try:
            result = work(db)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return result

    async def choose(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        return await self._in_transaction(lambda db: self._choose(db, options, common, self.clock()))

    def _choose(
        self, db: sqlite3.Connection, options: Sequence[Option], common: Sequence[Check], now: float
    ) -> Choice:
        if common:
            blocked, wait = self._blocked(db, Option(tuple(common)), now)
            if blocked != ADMITTED:
                return Choice(-1, common_blocked=blocked, common_wait=wait)
        blocked_by: list[int] = []
        waits: list[float] = []
        for index, option in enumerate(options):
            blocked, wait = self._blocked(db, option, now)
            blocked_by.append(blocked)
            waits.append(wait)
            if blocked == ADMITTED:
                for check in (*option.checks, *common):
                    if check.is_slot:
                        db.execute(
                            "INSERT OR REPLACE INTO slots VALUES (?, ?, ?)",
                            (check.key, check.holder, now + self.lease_seconds),
                        )
                    else:
                        _add(db, check.key, check.amount, now)
                return Choice(index, tuple(blocked_by), tuple(waits))
        return Choice(-1, tuple(blocked_by), tuple(waits))

    def _blocked(self, db: sqlite3.Connection, option: Option, now: float) -> tuple[int, float]:
        if option.cooldown_key:
            left = _cooling_for(db, option.cooldown_key, now)
            if left > 0:
                return COOLING, left
        for index, check in enumerate(option.checks):
            if check.limit is None:
                continue
            wait = _slot_wait(db, check, now) if check.is_slot else _window_wait(db, check, now)
            if wait:
                return index, wait
        return ADMITTED, 0.0

    async def settle(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        if not adds and not releases:
            return

        def work(db: sqlite3.Connection) -> None:
            now = self.clock()
            for key, amount in adds:
                _add(db, key, amount, now)
            db.executemany("DELETE FROM slots WHERE key = ? AND holder = ?", releases)

        await self._in_transaction(work)

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:

        def work(db: sqlite3.Connection) -> tuple[float, bool]:
            now = self.clock()
            _add(db, fails_key, 1, now)
            fails = sum(amount for _, amount in _buckets(db, fails_key, now))
            cooled = fails > allowed and cooldown_seconds > 0
            if cooled:
                until = now + cooldown_seconds
                db.execute("INSERT OR REPLACE INTO cooldowns VALUES (?, ?)", (cooldown_key, until))
                db.execute("DELETE FROM windows WHERE key = ?", (fails_key,))
            return fails, cooled

        return await self._in_transaction(work)

    async def read(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        db = self._connection()
        now = self.clock()
        readings = Readings()
        oldest = int(now) - WINDOW_SECONDS
        for key in windows:
            row = db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM windows WHERE key = ? AND second > ?", (key, oldest)
            ).fetchone()
            readings.totals[key] = float(row[0])
        for key in slots:
            query = "SELECT COUNT(*) FROM slots WHERE key = ? AND expires > ?"
            row = db.execute(query, (key, now)).fetchone()
            readings.slots[key] = int(row[0])
        for key in cooldowns:
            left = _cooling_for(db, key, now)
            if left > 0:
                readings.cooling[key] = left
        return readings

    async def reserve(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:

        def work(db: sqlite3.Connection) -> Booking:
            now = self.clock()
            db.execute("DELETE FROM reservations WHERE key = ? AND expires <= ?", (key, now))
            row = db.execute(
                "SELECT spent FROM budgets WHERE key = ? AND kept_until > ?", (key, now)
            ).fetchone()
            known = max(float(row[0]), spent) if row is not None else spent
            query = "SELECT COALESCE(SUM(amount), 0) FROM reservations WHERE key = ?"
            reserved = float(db.execute(query, (key,)).fetchone()[0])
            db.execute(
                "INSERT OR REPLACE INTO budgets VALUES (?, ?, ?)", (key, known, now + BUDGET_KEEP_SECONDS)
            )
            if not budget_allows(known, reserved, amount, limit):
                return Booking(False, known, reserved)
            db.execute(
                "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?)", (key, holder, amount, now + ttl)
            )
            return Booking(True, known, reserved)

        return await self._in_transaction(work)

    async def release(self, key: str, holder: str, cost: float) -> None:

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM reservations WHERE key = ? AND holder = ?", (key, holder))
            if cost:
                db.execute(
                    "INSERT INTO budgets VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
                    " SET spent = spent + excluded.spent, kept_until = excluded.kept_until",
                    (key, cost, self.clock() + BUDGET_KEEP_SECONDS),
                )

        await self._in_transaction(work)

    async def claim(self, key: str, seconds: float) -> bool:

        def work(db: sqlite3.Connection) -> bool:
            now = self.clock()
            if _cooling_for(db, key, now) > 0:
                return False
            db.execute("INSERT OR REPLACE INTO cooldowns VALUES (?, ?)", (key, now + seconds))
            return True

        return await self._in_transaction(work)


def _buckets(db: sqlite3.Connection, key: str, now: float) -> list[tuple[float, float]]:
    """The window's live (second, amount) buckets, oldest first; older ones are deleted."""
    oldest = int(now) - WINDOW_SECONDS
    db.execute("DELETE FROM windows WHERE key = ? AND second <= ?", (key, oldest))
    rows = db.execute("SELECT second, amount FROM windows WHERE key = ? ORDER BY second", (key,)).fetchall()
    return [(float(second), float(amount)) for second, amount in rows]


def _add(db: sqlite3.Connection, key: str, amount: float, now: float) -> None:
    if not amount:
        return
    db.execute(
        "INSERT INTO windows VALUES (?, ?, ?) "
        "ON CONFLICT (key, second) DO UPDATE SET amount = amount + excluded.amount",
        (key, int(now), amount),
    )
    db.execute("DELETE FROM windows WHERE key = ? AND second <= ?", (key, int(now) - WINDOW_SECONDS))


def _window_wait(db: sqlite3.Connection, check: Check, now: float) -> float:
    assert check.limit is not None
    buckets = _buckets(db, check.key, now)
    total = sum(amount for _, amount in buckets)
    return free_in(buckets, total, check.limit, check.needed, now)


def _slot_wait(db: sqlite3.Connection, check: Check, now: float) -> float:
    assert check.limit is not None
    db.execute("DELETE FROM slots WHERE key = ? AND expires <= ?", (check.key, now))
    held = db.execute("SELECT COUNT(*) FROM slots WHERE key = ?", (check.key,)).fetchone()[0]
    return SLOT_REFUSED_WAIT if held >= check.limit else 0.0


def _cooling_for(db: sqlite3.Connection, key: str, now: float) -> float:
    row = db.execute("SELECT until FROM cooldowns WHERE key = ?", (key,)).fetchone()
    return max(float(row[0]) - now, 0.0) if row is not None else 0.0
