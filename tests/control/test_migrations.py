"""Schema migrations at start-up, on the three backends: from an empty database, from the schema the gateway
had before the control plane (with the rows such a database holds, including a retried batch's duplicate),
and by several gateways starting at once."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bedrock_proxy.control.location import database_for_url, store_for_url
from bedrock_proxy.control.migrations import LATEST, MIGRATIONS
from bedrock_proxy.control.records import SpendEntry
from bedrock_proxy.control.sql import MYSQL, POSTGRESQL, SQLITE
from bedrock_proxy.control.urls import backend_of
from bedrock_proxy.spend.response_store import SqlResponseStore, StoredResponse
from tests.control.legacy_schemas import POSTGRES_V3, POSTGRES_VERSION_TABLE, SQLITE_V3
from tests.control.support import connect, execute, query, tables

TABLES = [
    "bedrock_proxy_migrations",
    "control_changes",
    "control_keys",
    "control_teams",
    "control_users",
    "control_version",
    "key_spend",
    "responses",
    "spend_daily",
    "spend_logs",
    "spend_seen",
]
T1 = datetime(2026, 1, 10, 9, tzinfo=UTC).timestamp()
T2 = datetime(2026, 1, 11, 9, tzinfo=UTC).timestamp()
# what main's ledger left: a batch retried after its commit succeeded wrote "dup" twice
OLD_ROWS = [
    ("a1", "ka", "alias-a", "claude-3-haiku", "anthropic.x", "chat", 0.5, 10, 20, T1 - 1, T1, False),
    ("dup", "ka", "alias-a", "claude-3-haiku", "anthropic.x", "chat", 0.25, 5, 5, T2 - 1, T2, True),
    ("dup", "ka", "alias-a", "claude-3-haiku", "anthropic.x", "chat", 0.25, 5, 5, T2 - 1, T2, True),
    ("b1", "kb", "alias-b", "titan", "amazon.titan", "embedding", 0.125, 7, 0, T2 - 1, T2, False),
]
OLD_TOTALS = [("ka", "alias-a", 1.0, T2), ("kb", "alias-b", 0.125, T2)]
OLD_RESPONSE = ("resp_old", "ka", '{"id": "resp_old"}', "[]", T1, T1 + 10 * 365 * 86400)


def applied(url: str) -> list[int]:
    if "bedrock_proxy_migrations" not in tables(url):
        return []
    rows = query(url, "SELECT version FROM bedrock_proxy_migrations ORDER BY version")
    return [int(row[0]) for row in rows]


def previous_schema(url: str) -> None:
    """The database as main's gateway left it (MySQL had none: main refused it, so the same migrations 1-3
    stand in for it)."""
    backend = backend_of(url)
    if backend == "sqlite":
        with sqlite3.connect(url.split("///", 1)[1]) as db:
            db.executescript(SQLITE_V3)
    elif backend == "postgresql":
        execute(url, POSTGRES_VERSION_TABLE, *POSTGRES_V3)
        execute(url, *(f"INSERT INTO bedrock_proxy_migrations (version) VALUES ({v})" for v in (1, 2, 3)))
    else:
        conn = connect(url)
        try:
            cursor = conn.cursor()
            cursor.execute(MYSQL.sql("CREATE TABLE bedrock_proxy_migrations (version INTEGER PRIMARY KEY,"
                                     " applied_at {APPLIED})"))  # fmt: skip
            for version, step in enumerate(MIGRATIONS[:3], start=1):
                assert callable(step)
                step(cursor, MYSQL)
                cursor.execute("INSERT INTO bedrock_proxy_migrations (version) VALUES (%s)", (version,))
        finally:
            conn.close()
    conn = connect(url)
    try:
        cursor = conn.cursor()
        mark = "?" if backend == "sqlite" else "%s"
        cursor.executemany(f"INSERT INTO spend_logs VALUES ({', '.join([mark] * 12)})", OLD_ROWS)
        cursor.executemany(f"INSERT INTO key_spend VALUES ({', '.join([mark] * 4)})", OLD_TOTALS)
        cursor.execute(f"INSERT INTO responses VALUES ({', '.join([mark] * 6)})", OLD_RESPONSE)
        if backend == "sqlite":
            conn.commit()
    finally:
        conn.close()


def test_an_empty_database_gets_every_table_and_every_version_once(database_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:  # gateways starting together
        list(pool.map(lambda _: store_for_url(database_url).check(), range(4)))
    store_for_url(database_url).check()  # and again at the next start
    assert applied(database_url) == list(range(1, LATEST + 1))
    assert tables(database_url) == TABLES


async def test_the_previous_schema_is_migrated_keeping_its_data_and_dropping_the_retried_duplicate(
    database_url: str,
) -> None:
    previous_schema(database_url)
    assert applied(database_url) == ([] if backend_of(database_url) == "sqlite" else [1, 2, 3])
    store = store_for_url(database_url)
    await store.open()
    try:
        assert applied(database_url) == list(range(1, LATEST + 1))
        assert tables(database_url) == TABLES
        logs = await store.spend_logs(limit=10)
        assert sorted(row.request_id for row in logs) == ["a1", "b1", "dup"]
        dup = next(row for row in logs if row.request_id == "dup")
        assert dup.estimated and dup.spend == 0.25 and dup.team_id is None and dup.kind == "chat"
        assert await store.totals() == {"ka": 1.0, "kb": 0.125}  # what budgets counted stays as it was
        report = await store.spend_report(start=T1, end=T2, group_by=["day", "key"])
        assert [(r["day"], r["key_id"], r["spend"], r["requests"]) for r in report] == [
            ("2026-01-10", "ka", 0.5, 1),
            ("2026-01-11", "ka", 0.25, 1),
            ("2026-01-11", "kb", 0.125, 1),
        ]
        await store.record([logs[0], *await store.spend_logs(key_id="kb")])  # old ids again: nothing new
        await store.record([SpendEntry("new", "ka", "alias-a", "m", "x", 0.5, 1, 1, T2, T2)])
        assert await store.totals() == {"ka": 1.5, "kb": 0.125}
    finally:
        await store.close()
    responses = SqlResponseStore(database_for_url(database_url, "test"), 60)
    try:
        found = await responses.load("resp_old", "ka", now=T2)
        assert found is not None and found.response == {"id": "resp_old"}
        await responses.save(StoredResponse("resp_new", "ka", {"id": "resp_new"}, [], T2, T2 + 60))
        assert (await responses.load("resp_new", "ka", now=T2 + 1)) is not None
    finally:
        await responses.close()


def columns(url: str) -> set[tuple[str, str, str]]:
    """(table, column, type) of every table, as the database describes them."""
    if backend_of(url) == "sqlite":
        return {
            (table, str(row[1]), str(row[2]).upper())
            for table in tables(url)
            for row in query(url, f"PRAGMA table_info({table})")
        }
    rows = query(
        url,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()",
    )
    return {(str(t), str(c), str(d)) for t, c, d in rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_versions_1_to_3_still_make_the_schema_main_shipped(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A migration that shipped is never edited: the code's versions 1-3 make what main's schema made."""
    if backend == "sqlite":
        shipped, rebuilt = f"sqlite:///{tmp_path}/shipped.db", f"sqlite:///{tmp_path}/rebuilt.db"
    else:
        server = request.getfixturevalue("postgres")
        shipped, rebuilt = server.new_database(), server.new_database()
    previous_schema(shipped)
    conn = connect(rebuilt)
    try:
        cursor = conn.cursor()
        dialect = SQLITE if backend == "sqlite" else POSTGRESQL
        for step in MIGRATIONS[:3]:
            assert callable(step)
            step(cursor, dialect)
        if backend == "sqlite":
            conn.commit()
    finally:
        conn.close()
    made = {row for row in columns(shipped) if row[0] != "bedrock_proxy_migrations"}
    assert made and made == columns(rebuilt)
