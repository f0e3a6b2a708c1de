"""The spend ledger on SQLite: the control plane's store on one file (control/sqlite.py), the default."""

from __future__ import annotations

from pathlib import Path

from bedrock_proxy.control.sqlite import sqlite_database, sqlite_path
from bedrock_proxy.control.sqlstore import SqlControlStore

__all__ = ["SqliteSpendStore", "sqlite_path"]


class SqliteSpendStore(SqlControlStore):
    def __init__(self, path: str | Path) -> None:
        super().__init__(sqlite_database(path, "spend-sqlite"))
        self.path = str(path)
