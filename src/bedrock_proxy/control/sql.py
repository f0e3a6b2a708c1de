"""What differs between SQLite, PostgreSQL and MySQL/MariaDB SQL, as data and pure functions.

The store's queries are written once with `?` placeholders and the column types as `{ID}`, `{TEXT}`...; a
Dialect turns them into its database's text. Only upserts and insert-if-new differ in shape: SQLite and
PostgreSQL say ON CONFLICT, MySQL says ON DUPLICATE KEY / INSERT IGNORE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# a LIMIT that means "all rows" in every dialect (none of them takes LIMIT without a number after OFFSET)
NO_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # "sqlite" | "postgresql" | "mysql"
    placeholder: str  # the driver's parameter marker
    types: dict[str, str] = field(default_factory=dict)  # {ID} -> the column type, ...
    begin_write: str = "BEGIN"  # the statement that opens a write transaction
    begin_read: str = "BEGIN"
    day_of: str = "date({}, 'unixepoch')"  # epoch seconds -> "YYYY-MM-DD" (UTC)
    migration_lock: tuple[str, ...] = ()  # taken before migrating, so two starting gateways migrate once
    migration_unlock: tuple[str, ...] = ()
    returning: bool = True  # INSERT ... RETURNING (SQLite 3.35+, PostgreSQL; not MySQL)

    def sql(self, text: str) -> str:
        """`?` placeholders and `{TYPE}` names in this dialect's spelling."""
        for name, spelled in self.types.items():
            text = text.replace("{" + name + "}", spelled)
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    @property
    def mysql(self) -> bool:
        return self.name == "mysql"

    def insert_if_new(self, table: str, columns: Sequence[str], key: str) -> str:
        """INSERT of one row that does nothing (rowcount 0) when `key` already exists."""
        values = ", ".join("?" * len(columns))
        names = ", ".join(columns)
        if self.mysql:
            return self.sql(f"INSERT IGNORE INTO {table} ({names}) VALUES ({values})")
        return self.sql(f"INSERT INTO {table} ({names}) VALUES ({values}) ON CONFLICT ({key}) DO NOTHING")

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        *,
        add: Sequence[str],
        replace: Sequence[str],
    ) -> str:
        """INSERT of one row; when `key` exists, the `add` columns are added to and `replace` ones set."""
        values = ", ".join("?" * len(columns))
        names = ", ".join(columns)
        if self.mysql:
            sets = [f"{c} = {c} + VALUES({c})" for c in add] + [f"{c} = VALUES({c})" for c in replace]
            return self.sql(
                f"INSERT INTO {table} ({names}) VALUES ({values}) ON DUPLICATE KEY UPDATE " + ", ".join(sets)
            )
        sets = [f"{c} = {table}.{c} + excluded.{c}" for c in add] + [f"{c} = excluded.{c}" for c in replace]
        return self.sql(
            f"INSERT INTO {table} ({names}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            + ", ".join(sets)
        )

    def insert_select_if_new(self, table: str, columns: str, select: str) -> str:
        """INSERT ... SELECT that skips rows whose key already exists."""
        if self.mysql:
            return f"INSERT IGNORE INTO {table} ({columns}) {select}"
        # WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT
        where = " WHERE true" if " WHERE " not in select else ""
        return f"INSERT INTO {table} ({columns}) {select}{where} ON CONFLICT DO NOTHING"

    def create_index(self, name: str, table: str, columns: str) -> str:
        """MySQL has no CREATE INDEX IF NOT EXISTS; its migrations run once, so it needs none."""
        guard = "" if self.mysql else "IF NOT EXISTS "
        return f"CREATE INDEX {guard}{name} ON {table} ({columns})"


SQLITE = Dialect(
    "sqlite",
    "?",
    {
        "ID": "TEXT",
        "KEY": "TEXT",
        "TEXT": "TEXT",
        "LONGTEXT": "TEXT",
        "REAL": "REAL",
        "BOOL": "INTEGER",
        "BIGINT": "INTEGER",
        "APPLIED": "TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
    },
    begin_write="BEGIN IMMEDIATE",  # take the write lock first: two writers never deadlock upgrading
    begin_read="BEGIN DEFERRED",
)
POSTGRESQL = Dialect(
    "postgresql",
    "%s",
    {
        "ID": "TEXT",
        "KEY": "TEXT",
        "TEXT": "TEXT",
        "LONGTEXT": "TEXT",
        "REAL": "DOUBLE PRECISION",
        "BOOL": "BOOLEAN",
        "BIGINT": "BIGINT",
        "APPLIED": "TIMESTAMPTZ NOT NULL DEFAULT now()",
    },
    day_of="to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    # "bpsp": the lock main's PostgreSQL store took, so an older gateway starting beside this one waits too
    migration_lock=("SELECT pg_advisory_xact_lock(1651536752)",),
)
MYSQL = Dialect(
    "mysql",
    "%s",
    {
        # TEXT cannot be a key in MySQL, and a key's bytes are capped (3072): 191 utf8mb4 characters, and
        # 64 for key ids (sha256 hex), keep even the daily aggregates' five-column key under the cap
        "ID": "VARCHAR(191)",
        "KEY": "VARCHAR(64)",
        "TEXT": "TEXT",
        "LONGTEXT": "LONGTEXT",  # a stored response can exceed TEXT's 64 KiB
        "REAL": "DOUBLE",
        "BOOL": "BOOLEAN",
        "BIGINT": "BIGINT",
        "APPLIED": "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
    },
    begin_write="START TRANSACTION",
    begin_read="START TRANSACTION",
    returning=False,
    day_of="CAST(DATE(FROM_UNIXTIME({})) AS CHAR)",  # the session's time zone is UTC (control/mysql.py)
    migration_lock=("SELECT GET_LOCK('bedrock_proxy_migrations', 60)",),
    migration_unlock=("SELECT RELEASE_LOCK('bedrock_proxy_migrations')",),
)
