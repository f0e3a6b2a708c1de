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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.control.database import Database
from bedrock_proxy.control.location import database_for_url
from bedrock_proxy.control.migrations import Cursor
from bedrock_proxy.control.sqlite import sqlite_database, sqlite_path
from bedrock_proxy.control.store import DEFAULT_DATABASE_URL
from bedrock_proxy.control.urls import backend_of

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


COLUMNS = ("response_id", "key_id", "response", "items", "created_at", "expires_at")


class SqlResponseStore:
    """Stored responses in the gateway's database (its own connection), on any of the three backends."""

    def __init__(self, database: Database, ttl_seconds: float) -> None:
        self.database = database
        self.ttl_seconds = ttl_seconds
        self._opening = asyncio.Lock()
        d = database.dialect
        self._save = d.upsert("responses", COLUMNS, ("response_id",), add=(), replace=COLUMNS[1:])
        self._load = d.sql(
            f"SELECT {', '.join(COLUMNS)} FROM responses"
            " WHERE response_id = ? AND key_id = ? AND expires_at > ?"
        )
        self._delete = d.sql("DELETE FROM responses WHERE response_id = ? AND key_id = ?")
        self._purge = d.sql("DELETE FROM responses WHERE expires_at <= ?")

    async def _ready(self) -> None:
        async with self._opening:
            await self.database.open()

    async def save(self, stored: StoredResponse) -> None:
        await self._ready()

        def write(cur: Cursor) -> None:
            cur.execute(self._purge, (stored.created_at,))
            cur.execute(self._save, stored.as_row())

        await self.database.call(write)

    async def load(self, response_id: str, key_id: str, now: float) -> StoredResponse | None:
        await self._ready()

        def read(cur: Cursor) -> StoredResponse | None:
            cur.execute(self._load, (response_id, key_id, now))
            row = cur.fetchone()
            return StoredResponse.from_row(tuple(row)) if row is not None else None

        return await self.database.call(read, write=False)

    async def delete(self, response_id: str, key_id: str) -> bool:
        await self._ready()

        def remove(cur: Cursor) -> bool:
            cur.execute(self._delete, (response_id, key_id))
            return bool(cur.rowcount > 0)

        return await self.database.call(remove)

    async def close(self) -> None:
        await self.database.close()


class SqliteResponseStore(SqlResponseStore):
    """Stored responses in the SQLite file the spend ledger uses (its own connection, WAL)."""

    def __init__(self, path: str, ttl_seconds: float) -> None:
        super().__init__(sqlite_database(path, "responses-sqlite"), ttl_seconds)
        self.path = path


def plan_response_store(settings: Settings, environ: Mapping[str, str]) -> ResponseStore:
    """The store for stored responses: the database spend uses (database_url, DATABASE_URL, else the
    default SQLite file), opened on first use. Raises ValueError for a bad URL or TTL."""
    ttl = env_seconds(environ, TTL_VARIABLE, DEFAULT_TTL_SECONDS)
    url = settings.database_url or environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if backend_of(url) == "sqlite":
        return SqliteResponseStore(sqlite_path(url), ttl)
    return SqlResponseStore(database_for_url(url, "responses"), ttl)
