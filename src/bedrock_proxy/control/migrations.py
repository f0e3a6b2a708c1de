"""The schema, as numbered migrations every backend runs once, in order, at start-up.

Versions 1-3 are the schema of the gateway before the control plane (PostgreSQL recorded them in
bedrock_proxy_migrations; a SQLite file of that time has the tables and no version table, which the same
migrations recognise, as they only create what is missing). Version 4 makes the ledger compact and
idempotent, version 5 adds the control plane's tables. Append; never edit a migration that shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bedrock_proxy.control.sql import Dialect


class Cursor(Protocol):
    """The DB-API cursor the three drivers share."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, operation: Any, parameters: Any = ..., /) -> Any: ...

    def executemany(self, operation: Any, seq_of_parameters: Any, /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


Step = str | Callable[[Cursor, Dialect], None]


def columns_of(cur: Cursor, dialect: Dialect, table: str) -> set[str]:
    if dialect.name == "sqlite":
        cur.execute(f"PRAGMA table_info({table})")
        return {row[1] for row in cur.fetchall()}
    schema = "current_schema()" if dialect.name == "postgresql" else "DATABASE()"
    cur.execute(
        dialect.sql(
            "SELECT column_name FROM information_schema.columns"
            f" WHERE table_schema = {schema} AND table_name = ?"
        ),
        (table,),
    )
    return {str(row[0]).lower() for row in cur.fetchall()}


def _add_estimated(cur: Cursor, dialect: Dialect) -> None:
    if "estimated" not in columns_of(cur, dialect, "spend_logs"):
        cur.execute(dialect.sql("ALTER TABLE spend_logs ADD COLUMN estimated {BOOL} NOT NULL DEFAULT FALSE"))


def _spend_logs_v1(cur: Cursor, dialect: Dialect) -> None:
    cur.execute(
        dialect.sql(
            """CREATE TABLE IF NOT EXISTS spend_logs (
        request_id {ID} NOT NULL,
        key_id {KEY} NOT NULL,
        key_alias {ID} NOT NULL,
        model {ID} NOT NULL,
        bedrock_model_id {ID} NOT NULL,
        kind {ID} NOT NULL,
        spend {REAL} NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        start_time {REAL} NOT NULL,
        end_time {REAL} NOT NULL
    )"""
        )
    )
    cur.execute(dialect.create_index("spend_logs_by_time", "spend_logs", "end_time"))
    cur.execute(dialect.create_index("spend_logs_by_key", "spend_logs", "key_id, end_time"))
    cur.execute(
        dialect.sql(
            """CREATE TABLE IF NOT EXISTS key_spend (
        key_id {KEY} PRIMARY KEY,
        key_alias {ID} NOT NULL,
        spend {REAL} NOT NULL DEFAULT 0,
        updated_at {REAL} NOT NULL
    )"""
        )
    )


def _responses_v2(cur: Cursor, dialect: Dialect) -> None:
    cur.execute(
        dialect.sql(
            """CREATE TABLE IF NOT EXISTS responses (
        response_id {ID} PRIMARY KEY,
        key_id {KEY} NOT NULL,
        response {LONGTEXT} NOT NULL,
        items {LONGTEXT} NOT NULL,
        created_at {REAL} NOT NULL,
        expires_at {REAL} NOT NULL
    )"""
        )
    )
    cur.execute(dialect.create_index("responses_by_expiry", "responses", "expires_at"))


LEDGER_COLUMNS = (
    "request_id, key_id, key_alias, team_id, user_id, model, bedrock_model_id, kind, spend, prompt_tokens,"
    " completion_tokens, start_time, end_time, estimated"
)


def _compact_ledger_v4(cur: Cursor, dialect: Dialect) -> None:
    """spend_logs gets one row per call, known by its request id and start time (a retried batch used to
    add a second; the start time keeps apart two calls a client sent with the same x-request-id), and the
    key's team and user; spend_daily keeps the sums reports read; spend_seen remembers the calls when logs
    are off."""
    cur.execute(
        dialect.sql(
            """CREATE TABLE spend_ledger (
        request_id {ID} NOT NULL,
        key_id {KEY} NOT NULL,
        key_alias {ID} NOT NULL,
        team_id {ID} NOT NULL DEFAULT '',
        user_id {ID} NOT NULL DEFAULT '',
        model {ID} NOT NULL,
        bedrock_model_id {ID} NOT NULL,
        kind {ID} NOT NULL,
        spend {REAL} NOT NULL,
        prompt_tokens {BIGINT} NOT NULL,
        completion_tokens {BIGINT} NOT NULL,
        start_time {REAL} NOT NULL,
        end_time {REAL} NOT NULL,
        estimated {BOOL} NOT NULL DEFAULT FALSE,
        PRIMARY KEY (request_id, start_time)
    )"""
        )
    )
    old = (
        "SELECT request_id, key_id, key_alias, '', '', model, bedrock_model_id, kind, spend, prompt_tokens,"
        " completion_tokens, start_time, end_time, estimated FROM spend_logs"
    )
    cur.execute(dialect.insert_select_if_new("spend_ledger", LEDGER_COLUMNS, old))
    cur.execute("DROP TABLE spend_logs")
    cur.execute("ALTER TABLE spend_ledger RENAME TO spend_logs")
    cur.execute(dialect.create_index("spend_logs_by_time", "spend_logs", "end_time"))
    cur.execute(dialect.create_index("spend_logs_by_key", "spend_logs", "key_id, end_time"))
    cur.execute(dialect.create_index("spend_logs_by_team", "spend_logs", "team_id, end_time"))
    cur.execute(dialect.create_index("spend_logs_by_user", "spend_logs", "user_id, end_time"))
    cur.execute(
        dialect.sql(
            """CREATE TABLE spend_seen (
        request_id {ID} NOT NULL,
        start_time {REAL} NOT NULL,
        seen_at {REAL} NOT NULL,
        PRIMARY KEY (request_id, start_time)
    )"""
        )
    )
    cur.execute(dialect.create_index("spend_seen_by_time", "spend_seen", "seen_at"))
    cur.execute(
        dialect.sql(
            """CREATE TABLE spend_daily (
        day {KEY} NOT NULL,
        key_id {KEY} NOT NULL,
        team_id {ID} NOT NULL,
        user_id {ID} NOT NULL,
        model {ID} NOT NULL,
        spend {REAL} NOT NULL,
        requests {BIGINT} NOT NULL,
        prompt_tokens {BIGINT} NOT NULL,
        completion_tokens {BIGINT} NOT NULL,
        PRIMARY KEY (day, key_id, team_id, user_id, model)
    )"""
        )
    )
    day = dialect.day_of.format("end_time")
    cur.execute(
        "INSERT INTO spend_daily (day, key_id, team_id, user_id, model, spend, requests, prompt_tokens,"
        f" completion_tokens) SELECT {day}, key_id, team_id, user_id, model, SUM(spend), COUNT(*),"
        f" SUM(prompt_tokens), SUM(completion_tokens) FROM spend_logs GROUP BY {day}, key_id, team_id,"
        " user_id, model"
    )


_BUDGET_COLUMNS = """
        max_budget {REAL},
        soft_budget {REAL},
        budget_duration {ID},
        budget_reset_at {REAL},
        spend {REAL} NOT NULL DEFAULT 0,
        rpm_limit {BIGINT},
        tpm_limit {BIGINT},
        max_parallel_requests {BIGINT},"""


def _control_v5(cur: Cursor, dialect: Dialect) -> None:
    """Keys (by sha256 only), teams, users, and the change log every process polls."""
    cur.execute(
        dialect.sql(
            f"""CREATE TABLE control_keys (
        key_id {{KEY}} PRIMARY KEY,
        key_name {{ID}} NOT NULL,
        key_alias {{ID}} UNIQUE,
        models {{TEXT}} NOT NULL,{_BUDGET_COLUMNS}
        team_id {{ID}},
        user_id {{ID}},
        expires {{REAL}},
        blocked {{BOOL}} NOT NULL DEFAULT FALSE,
        metadata {{TEXT}} NOT NULL,
        created_at {{REAL}} NOT NULL,
        updated_at {{REAL}} NOT NULL
    )"""
        )
    )
    cur.execute(dialect.create_index("control_keys_by_team", "control_keys", "team_id"))
    cur.execute(dialect.create_index("control_keys_by_user", "control_keys", "user_id"))
    cur.execute(
        dialect.sql(
            f"""CREATE TABLE control_teams (
        team_id {{ID}} PRIMARY KEY,
        team_alias {{ID}},
        models {{TEXT}} NOT NULL,{_BUDGET_COLUMNS}
        blocked {{BOOL}} NOT NULL DEFAULT FALSE,
        metadata {{TEXT}} NOT NULL,
        created_at {{REAL}} NOT NULL,
        updated_at {{REAL}} NOT NULL
    )"""
        )
    )
    cur.execute(
        dialect.sql(
            f"""CREATE TABLE control_users (
        user_id {{ID}} PRIMARY KEY,
        user_email {{ID}},
        user_role {{ID}},
        models {{TEXT}} NOT NULL,{_BUDGET_COLUMNS}
        metadata {{TEXT}} NOT NULL,
        created_at {{REAL}} NOT NULL,
        updated_at {{REAL}} NOT NULL
    )"""
        )
    )
    cur.execute(
        dialect.sql("CREATE TABLE control_version (id INTEGER PRIMARY KEY, version {BIGINT} NOT NULL)")
    )
    cur.execute("INSERT INTO control_version (id, version) VALUES (1, 0)")
    cur.execute(
        dialect.sql(
            """CREATE TABLE control_changes (
        version {BIGINT} NOT NULL,
        kind {KEY} NOT NULL,
        item_id {ID} NOT NULL,
        changed_at {REAL} NOT NULL
    )"""
        )
    )
    cur.execute(dialect.create_index("control_changes_by_version", "control_changes", "version"))


# Append; never edit. Each runs once per database, in order, recorded in bedrock_proxy_migrations.
MIGRATIONS: tuple[Step, ...] = (
    _spend_logs_v1,
    _responses_v2,
    _add_estimated,  # 3: calls cut short (a client that left mid-stream) are charged an estimate, flagged
    _compact_ledger_v4,
    _control_v5,
)
LATEST = len(MIGRATIONS)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS bedrock_proxy_migrations (
    version INTEGER PRIMARY KEY,
    applied_at {APPLIED}
)"""


def applied(cur: Cursor, dialect: Dialect) -> int:
    cur.execute(dialect.sql(VERSION_TABLE))
    cur.execute("SELECT COALESCE(MAX(version), 0) FROM bedrock_proxy_migrations")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def migrate(cur: Cursor, dialect: Dialect) -> int:
    """Run every migration the database lacks, under the dialect's migration lock (in a transaction the
    caller opened and commits: SQLite and PostgreSQL change their schema all or nothing; MySQL commits each
    statement, and records each version as soon as it is done). The number of migrations run."""
    for statement in dialect.migration_lock:
        cur.execute(statement)
        cur.fetchall()
    try:
        done = applied(cur, dialect)
        ran = 0
        for version, step in enumerate(MIGRATIONS, start=1):
            if version <= done:
                continue
            if isinstance(step, str):
                cur.execute(dialect.sql(step))
            else:
                step(cur, dialect)
            cur.execute(dialect.sql("INSERT INTO bedrock_proxy_migrations (version) VALUES (?)"), (version,))
            ran += 1
        return ran
    finally:
        for statement in dialect.migration_unlock:
            cur.execute(statement)
            cur.fetchall()
