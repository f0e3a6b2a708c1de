"""SpendStore on PostgreSQL (psycopg 3), for several gateway hosts sharing one database.

Like the SQLite store, one connection lives on one dedicated thread, so the event loop never waits on the
network. The totals are added in the database (`spend = spend + excluded.spend`), so processes writing at the
same time never lose each other's spend. A lost connection is reopened on the next call; the error in between
is a SpendStoreError, which the ledger retries. The URL's password never reaches a log or an error: every
message names the database as user@host:port/db.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bedrock_proxy.spend.response_store import StoredResponse, delete_sql, load_sql, purge_sql, save_sql
from bedrock_proxy.spend.store import SpendEntry, SpendStoreError, insert_logs_sql, logs_query, totals_by_key

T = TypeVar("T")

CONNECT_TIMEOUT_SECONDS = 5
# a stuck lock or a runaway query frees the store's thread instead of holding it forever
STATEMENT_TIMEOUT = "30s"
# A dead peer (network cut, host gone) is noticed in about half a minute instead of the kernel's hours.
_LIVENESS = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}
# Two gateways starting together must not both create the tables: the first holds this lock while it migrates.
_MIGRATION_LOCK = 0x6270_7370  # "bpsp"

# Each migration runs once per database, in order, recorded in bedrock_proxy_migrations. Append; never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS spend_logs (
        request_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        key_alias TEXT NOT NULL,
        model TEXT NOT NULL,
        bedrock_model_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        spend DOUBLE PRECISION NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        start_time DOUBLE PRECISION NOT NULL,
        end_time DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS spend_logs_by_time ON spend_logs (end_time);
    CREATE INDEX IF NOT EXISTS spend_logs_by_key ON spend_logs (key_id, end_time);
    CREATE TABLE IF NOT EXISTS key_spend (
        key_id TEXT PRIMARY KEY,
        key_alias TEXT NOT NULL,
        spend DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS responses (
        response_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        response TEXT NOT NULL,
        items TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);
    """,
    # 3: calls cut short (a client that left mid-stream) are charged an estimate, flagged here
    "ALTER TABLE spend_logs ADD COLUMN IF NOT EXISTS estimated BOOLEAN NOT NULL DEFAULT FALSE;",
)

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS bedrock_proxy_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() in ("postgresql", "postgres")


def _libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's spelling) -> `postgresql://...`, which libpq reads."""
    scheme, rest = url.split(":", 1)
    return scheme.split("+", 1)[0] + ":" + rest


class PostgresSpendStore:
    def __init__(self, url: str) -> None:
        self._url = _libpq_url(url)
        try:
            params = conninfo_to_dict(self._url)
        except psycopg.Error:
            raise SpendStoreError(
                f"database_url {redact(url)} is not a PostgreSQL URL libpq can read: use "
                "postgresql://user:password@host:5432/dbname (percent-encode special characters)"
            ) from None
        password = str(params.get("password") or "")
        self._secrets = {s for s in (password, urllib.parse.quote(password, safe="")) if s}
        # libpq keywords, passed to psycopg.connect as they are
        self._params: dict[str, Any] = {**_LIVENESS, **{k: v for k, v in params.items() if v is not None}}
        self._params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        self._params.setdefault("application_name", "bedrock-proxy")
        self.where = _where(params)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spend-postgres")
        self._conn: psycopg.Connection | None = None
        self._opened = False

    @property
    def url(self) -> str:
        """The URL without its password: what start-up logs."""
        return redact(self._url)

    # ------------------------------------------------------------------ connection
    def _scrub(self, text: str) -> str:
        """Defence in depth (libpq does not echo passwords): a password "pass" must not eat "password"."""
        for secret in self._secrets:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
        return text

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).strip().removeprefix("connection failed:").strip()
        return self._scrub(" ".join(text.split())) or type(exc).__name__

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(**self._params, autocommit=True)
        try:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _usable(self) -> psycopg.Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            self._conn = None
            try:
                self._conn = conn = self._connect()
            except psycopg.Error as exc:
                raise SpendStoreError(self._unreachable(exc)) from None
        return conn

    def _unreachable(self, exc: psycopg.Error) -> str:
        reason = self._reason(exc)
        lowered = reason.lower()
        if "password" in lowered or "authentication" in lowered or "role" in lowered:
            fix = "fix the user and password in DATABASE_URL (or general_settings.database_url)"
        elif "does not exist" in lowered:
            fix = f"create the database (createdb {self.where.rsplit('/', 1)[-1]}) or fix DATABASE_URL"
        elif "permission denied" in lowered:
            fix = "grant this user CREATE on the database's public schema, or use the database's owner"
        else:
            fix = "start PostgreSQL (COMPOSE_PROFILES=postgres) or fix DATABASE_URL"
        return (
            f"cannot use the spend database {self.where} ({reason}). To fix: {fix}; or remove spend_limit "
            "from api_keys and database_url to run without a spend ledger"
        )

    def _run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        conn = self._usable()
        try:
            return fn(conn)
        except psycopg.Error as exc:
            if conn.broken or conn.closed:
                self._conn = None
            raise SpendStoreError(f"spend database {self.where}: {self._reason(exc)}") from None

    async def _call(self, fn: Callable[[psycopg.Connection], T]) -> T:
        if not self._opened:
            raise SpendStoreError("the spend store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, fn)

    # ------------------------------------------------------------------ lifecycle
    def check(self) -> None:
        """Connect and create the schema once, from the calling thread: start-up fails here, with advice,
        when the database cannot be used."""
        self._usable()
        self._close_sync()

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def open(self) -> None:
        if not self._opened:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._usable)
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_sync)
        self._thread.shutdown(wait=False)

    # ------------------------------------------------------------------ writes and reads
    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        if entries:
            await self._call(lambda conn: _record(conn, entries, keep_logs))

    async def totals(self) -> dict[str, float]:
        rows = await self._call(lambda conn: conn.execute("SELECT key_id, spend FROM key_spend").fetchall())
        return dict(rows)

    async def logs(
        self, *, key_id: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[SpendEntry]:
        sql, args = logs_query("%s", key_id=key_id, since=since, limit=limit)
        rows = await self._call(lambda conn: conn.execute(sql, args).fetchall())
        return [SpendEntry.from_row(row) for row in rows]


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=user + host))


def _where(params: dict[str, Any]) -> str:
    """user@host:port/db, as an operator names a database (no password)."""
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or "localhost"
    dbname = params.get("dbname") or user or ""
    return f"{user + '@' if user else ''}{host}:{params.get('port') or 5432}/{dbname}"


def _migrate(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(_VERSION_TABLE)
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM bedrock_proxy_migrations").fetchone()
        done = row[0] if row else 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version > done:
                conn.execute(sql)
                conn.execute("INSERT INTO bedrock_proxy_migrations (version) VALUES (%s)", (version,))


def _record(conn: psycopg.Connection, entries: list[SpendEntry], keep_logs: bool) -> None:
    per_key = totals_by_key(entries)
    with conn.transaction(), conn.cursor() as cur:  # one transaction: the logs and the totals move together
        if keep_logs:
            cur.executemany(
                insert_logs_sql("%s"),
                [entry.as_row() for entry in entries],
            )
        # keys in one order in every process: two writers lock the same rows in the same order, never deadlock
        cur.executemany(
            "INSERT INTO key_spend (key_id, key_alias, spend, updated_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (key_id) DO UPDATE SET spend = key_spend.spend + excluded.spend,"
            " key_alias = excluded.key_alias, updated_at = excluded.updated_at",
            [(kid, alias, spent, when) for kid, (alias, spent, when) in sorted(per_key.items())],
        )


class PostgresResponseStore(PostgresSpendStore):
    """Stored responses (spend/response_store.py) in the PostgreSQL database the spend ledger uses."""

    def __init__(self, url: str, ttl_seconds: float) -> None:
        super().__init__(url)
        self.ttl_seconds = ttl_seconds
        self._opening = asyncio.Lock()

    async def _ready(self) -> None:
        async with self._opening:
            await self.open()

    async def save(self, stored: StoredResponse) -> None:
        await self._ready()

        def write(conn: psycopg.Connection) -> None:
            with conn.transaction():
                conn.execute(purge_sql("%s"), (stored.created_at,))
                conn.execute(save_sql("%s"), stored.as_row())

        await self._call(write)

    async def load(self, response_id: str, key_id: str, now: float) -> StoredResponse | None:
        await self._ready()
        row = await self._call(
            lambda conn: conn.execute(load_sql("%s"), (response_id, key_id, now)).fetchone()
        )
        return StoredResponse.from_row(row) if row is not None else None

    async def delete(self, response_id: str, key_id: str) -> bool:
        await self._ready()
        return await self._call(
            lambda conn: conn.execute(delete_sql("%s"), (response_id, key_id)).rowcount > 0
        )
