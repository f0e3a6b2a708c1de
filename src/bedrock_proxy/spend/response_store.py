"""Stored responses of the Responses API (`store: true`), kept for previous_response_id, GET and DELETE.

They live in the gateway's database beside the spend tables (the `responses` table of both stores), so every
worker and every host that shares the database finds them. Each is kept under the key that created it: a
lookup names the key too, so one key can never read, continue or delete another key's response (the server
answers 404, as for an unknown id). Each expires after a TTL (BEDROCK_PROXY_RESPONSES_TTL_SECONDS, 30 days by
default); expired rows are never returned and are deleted as new ones are written.

The database is opened on first use, so a gateway that never stores a response creates no file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.spend.location import DEFAULT_DATABASE_URL
from bedrock_proxy.spend.sqlite import SqliteSpendStore, sqlite_path
from bedrock_proxy.spend.store import SpendStoreError

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

DEFAULT_TTL_SECONDS = 30 * 24 * 3600
TTL_VARIABLE = "BEDROCK_PROXY_RESPONSES_TTL_SECONDS"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response_id: str
    key_id: str  # the key that created it: the only one that may read, continue or delete it
    response: dict[str, Any]  # the response object as the client received it
    items: list[dict[str, Any]]  # the conversation through this response: input items, then its output
    created_at: float
    expires_at: float

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.response_id,
            self.key_id,
            orjson.dumps(self.response).decode(),
            orjson.dumps(self.items).decode(),
            self.created_at,
            self.expires_at,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> StoredResponse:
        response_id, key_id, response, items, created_at, expires_at = row
        return cls(response_id, key_id, orjson.loads(response), orjson.loads(items), created_at, expires_at)


class ResponseStore(Protocol):
    ttl_seconds: float

    async def save(self, stored: StoredResponse) -> None: ...

    async def load(self, response_id: str, key_id: str, now: float) -> StoredResponse | None:
        """The response if it exists, belongs to `key_id` and has not expired; else None."""
        ...

    async def delete(self, response_id: str, key_id: str) -> bool:
        """True when a response of this key was deleted."""
        ...

    async def close(self) -> None: ...


COLUMNS = "response_id, key_id, response, items, created_at, expires_at"


def save_sql(ph: str) -> str:
    return (
        f"INSERT INTO responses ({COLUMNS}) VALUES ({', '.join([ph] * 6)})"
        " ON CONFLICT (response_id) DO UPDATE SET key_id = excluded.key_id, response = excluded.response,"
        " items = excluded.items, created_at = excluded.created_at, expires_at = excluded.expires_at"
    )


def load_sql(ph: str) -> str:
    return f"SELECT {COLUMNS} FROM responses WHERE response_id = {ph} AND key_id = {ph} AND expires_at > {ph}"


def delete_sql(ph: str) -> str:
    return f"DELETE FROM responses WHERE response_id = {ph} AND key_id = {ph}"


def purge_sql(ph: str) -> str:
    return f"DELETE FROM responses WHERE expires_at <= {ph}"


class SqliteResponseStore(SqliteSpendStore):
    """Stored responses in the SQLite file the spend ledger uses (its own connection, WAL)."""

    def __init__(self, path: str, ttl_seconds: float) -> None:
        super().__init__(path)
        self.ttl_seconds = ttl_seconds
        self._opening = asyncio.Lock()

    async def _ready(self) -> None:
        async with self._opening:
            await self.open()

    async def save(self, stored: StoredResponse) -> None:
        await self._ready()

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(purge_sql("?"), (stored.created_at,))
                db.execute(save_sql("?"), stored.as_row())

        await self._call(write)

    async def load(self, response_id: str, key_id: str, now: float) -> StoredResponse | None:
        await self._ready()
        row = await self._call(lambda db: db.execute(load_sql("?"), (response_id, key_id, now)).fetchone())
        return StoredResponse.from_row(row) if row is not None else None

    async def delete(self, response_id: str, key_id: str) -> bool:
        await self._ready()

        def remove(db: sqlite3.Connection) -> bool:
            with db:
                return db.execute(delete_sql("?"), (response_id, key_id)).rowcount > 0

        return await self._call(remove)


def plan_response_store(settings: Settings, environ: Mapping[str, str]) -> ResponseStore:
    """The store for stored responses: the database spend uses (database_url, DATABASE_URL, else the
    default SQLite file), opened on first use. Raises ValueError for a bad URL or TTL."""
    ttl = env_seconds(environ, TTL_VARIABLE, DEFAULT_TTL_SECONDS)
    url = settings.database_url or environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from bedrock_proxy.spend.postgres import PostgresResponseStore  # psycopg loads only for PostgreSQL

        return PostgresResponseStore(url, ttl)
    if scheme != "sqlite":
        raise SpendStoreError(
            f"database_url must be sqlite:///path.db or postgresql://user:password@host:5432/db, "
            f"not a {scheme}:// URL"
        )
    return SqliteResponseStore(sqlite_path(url), ttl)
