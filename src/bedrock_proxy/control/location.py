"""The database a URL names, as a Database (connection on a thread) or a whole ControlStore.

psycopg and mysql.connector load only when their backend is used.
"""

from __future__ import annotations

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.sqlite import sqlite_database, sqlite_path
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.control.store import StoreError
from bedrock_proxy.control.urls import SUPPORTED, backend_of


def database_for_url(url: str, purpose: str = "db") -> Database:
    """StoreError naming the accepted URLs for any other scheme."""
    backend = backend_of(url)
    if backend == "postgresql":
        from bedrock_proxy.control.postgres import postgres_database

        return postgres_database(url, f"{purpose}-postgres")
    if backend == "mysql":
        from bedrock_proxy.control.mysql import mysql_database

        return mysql_database(url, f"{purpose}-mysql")
    if backend == "sqlite":
        return sqlite_database(sqlite_path(url), f"{purpose}-sqlite")
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise StoreError(f"database_url must be {SUPPORTED}, not a {scheme}:// URL")


def store_for_url(url: str) -> SqlControlStore:
    return SqlControlStore(database_for_url(url, "control"))
