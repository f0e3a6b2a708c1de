"""The PostgreSQL driver (psycopg 3), for several gateway hosts sharing one database.

The URL's password never reaches a log or an error: every message names the database as
user@host:port/db. A dead peer is noticed by TCP keepalives in about half a minute, and a stuck lock or a
runaway query frees the store's thread after STATEMENT_TIMEOUT.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.migrations import Cursor
from bedrock_proxy.control.sql import POSTGRESQL
from bedrock_proxy.control.store import StoreError
from bedrock_proxy.control.urls import redact, scrub

CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT = "30s"
_LIVENESS = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3"}


def _libpq_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's spelling) -> `postgresql://...`, which libpq reads."""
    scheme, rest = url.split(":", 1)
    return scheme.split("+", 1)[0] + ":" + rest


def _where(params: dict[str, Any]) -> str:
    """user@host:port/db, as an operator names a database (no password)."""
    user = params.get("user")
    host = params.get("host") or params.get("hostaddr") or "localhost"
    dbname = params.get("dbname") or user or ""
    return f"{user + '@' if user else ''}{host}:{params.get('port') or 5432}/{dbname}"


class PostgresDriver:
    dialect = POSTGRESQL
    errors: tuple[type[BaseException], ...] = (psycopg.Error,)
    integrity_errors: tuple[type[BaseException], ...] = (psycopg.errors.IntegrityError,)

    def __init__(self, url: str) -> None:
        libpq = _libpq_url(url)
        try:
            params = conninfo_to_dict(libpq)
        except psycopg.Error:
            raise StoreError(
                f"database_url {redact(url)} is not a PostgreSQL URL libpq can read: use "
                "postgresql://user:password@host:5432/dbname (percent-encode special characters)"
            ) from None
        password = str(params.get("password") or "")
        self._secrets = {s for s in (password, urllib.parse.quote(password, safe="")) if s}
        self._params: dict[str, Any] = {**_LIVENESS, **{k: v for k, v in params.items() if v is not None}}
        self._params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        self._params.setdefault("application_name", "bedrock-proxy")
        self.where = _where(params)
        self.url = redact(libpq)

    def connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(**self._params, autocommit=True)
        try:
            conn.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        except BaseException:
            conn.close()
            raise
        return conn

    def cursor(self, conn: Any) -> Cursor:
        cursor: Cursor = conn.cursor()
        return cursor

    def alive(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def reason(self, exc: BaseException) -> str:
        text = str(exc).strip().removeprefix("connection failed:").strip()
        return scrub(" ".join(text.split()), self._secrets) or type(exc).__name__

    def unreachable(self, exc: BaseException) -> str:
        reason = self.reason(exc)
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
            f"cannot use the database {self.where} ({reason}). To fix: {fix}; or remove spend_limit "
            "from api_keys and database_url to run without a spend ledger"
        )


def postgres_database(url: str, thread_name: str = "db-postgres") -> Database:
    return Database(PostgresDriver(url), thread_name)
