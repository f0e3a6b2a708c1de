"""What the storage tests share: opening a store on a URL, reading a whole database back as text."""

from __future__ import annotations

import sqlite3
from typing import Any

import mysql.connector
import psycopg

from bedrock_proxy.control.mysql import mysql_params
from bedrock_proxy.control.urls import backend_of


def connect(url: str) -> Any:
    """A plain driver connection (autocommit), as an operator's client would open."""
    backend = backend_of(url)
    if backend == "sqlite":
        return sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    if backend == "postgresql":
        return psycopg.connect(url, autocommit=True)
    return mysql.connector.connect(**mysql_params(url), autocommit=True)


def query(url: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """`?` placeholders, on any backend."""
    conn = connect(url)
    try:
        if backend_of(url) != "sqlite":
            sql = sql.replace("?", "%s")
        cursor = conn.cursor()
        if args:
            cursor.execute(sql, args)
        else:
            cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        conn.close()


def execute(url: str, *statements: str) -> None:
    conn = connect(url)
    try:
        cursor = conn.cursor()
        for statement in statements:
            cursor.execute(statement)
    finally:
        conn.close()


def tables(url: str) -> list[str]:
    backend = backend_of(url)
    if backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    elif backend == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    else:
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    return sorted(str(row[0]) for row in query(url, sql))


def dump(url: str) -> str:
    """Every row of every table, as text: what a backup of the database holds."""
    return "\n".join(
        f"{table}: {row!r}" for table in tables(url) for row in query(url, f"SELECT * FROM {table}")
    )
