"""The spend ledger on PostgreSQL, shared by every gateway host that points at it (control/postgres.py)."""

from __future__ import annotations

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.postgres import PostgresDriver
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.control.urls import backend_of, redact

__all__ = ["PostgresSpendStore", "is_postgres_url", "redact"]


def is_postgres_url(url: str) -> bool:
    return backend_of(url) == "postgresql"


class PostgresSpendStore(SqlControlStore):
    def __init__(self, url: str) -> None:
        driver = PostgresDriver(url)
        super().__init__(Database(driver, "spend-postgres"))
        self.url = driver.url  # without the password: what start-up logs
