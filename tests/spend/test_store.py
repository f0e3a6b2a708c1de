"""The spend stores' contract, on both stores (a real SQLite file, a real PostgreSQL database), and the
start-up decision of where spend is kept."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bedrock_proxy.config.schema import ApiKey, Settings
from bedrock_proxy.spend import (
    SpendEntry,
    SpendStore,
    SpendStoreError,
    SqliteSpendStore,
    plan_ledger,
)
from bedrock_proxy.spend.postgres import PostgresSpendStore
from bedrock_proxy.spend.sqlite import sqlite_path
from tests.control.legacy_schemas import POSTGRES_V3


def entry(key: str, spend: float, when: float, request_id: str | None = None) -> SpendEntry:
    """request_id None: a new one, as every call has (the ledger counts a request id once)."""
    request_id = request_id or uuid.uuid4().hex
    return SpendEntry(
        request_id, key, f"alias-{key}", "claude-3-haiku", "anthropic.x", spend, 3, 7, when, when
    )


StoreMaker = Callable[[], SpendStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """Makes stores on one storage: a second store sees what the first wrote, as after a restart."""
    if request.param == "sqlite":
        return lambda: SqliteSpendStore(tmp_path / "spend.db")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresSpendStore(url)


async def test_totals_add_up_per_key_and_survive_reopening(new_store: StoreMaker) -> None:
    store = new_store()
    await store.open()
    await store.record([entry("a", 0.5, 1.0), entry("b", 0.25, 2.0)])
    await store.record([entry("a", 0.125, 3.0)])
    await store.close()
    reopened = new_store()
    await reopened.open()
    assert await reopened.totals() == {"a": 0.625, "b": 0.25}
    await reopened.close()


async def test_logs_come_newest_first_and_filter_by_key_and_time(new_store: StoreMaker) -> None:
    store = new_store()
    await store.open()
    await store.record([entry("a", 0.1, 1.0, "r1"), entry("b", 0.1, 2.0, "r2"), entry("a", 0.1, 3.0, "r3")])
    assert [e.request_id for e in await store.logs()] == ["r3", "r2", "r1"]
    assert [e.request_id for e in await store.logs(key_id="a")] == ["r3", "r1"]
    assert [e.request_id for e in await store.logs(since=2.0)] == ["r3", "r2"]
    assert [e.request_id for e in await store.logs(limit=1)] == ["r3"]
    await store.close()


async def test_disable_spend_logs_keeps_totals_without_rows(new_store: StoreMaker) -> None:
    store = new_store()
    await store.open()
    await store.record([entry("a", 0.5, 1.0)], keep_logs=False)
    assert await store.totals() == {"a": 0.5}
    assert await store.logs() == []
    await store.close()


async def test_an_entry_reads_back_exactly_as_it_was_written(new_store: StoreMaker) -> None:
    written = SpendEntry("req-1", "k", "team-a", "claude-3-haiku", "anthropic.x", 0.000123, 11, 22, 5.5, 6.25)
    store = new_store()
    await store.open()
    await store.record([written])
    assert await store.logs() == [written]
    await store.close()


async def test_a_store_that_is_not_open_says_so(new_store: StoreMaker) -> None:
    store = new_store()
    with pytest.raises(SpendStoreError, match="not open"):
        await store.totals()
    await store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///bedrock-proxy.db", "bedrock-proxy.db"),
        ("sqlite:////app/data/bedrock-proxy.db", "/app/data/bedrock-proxy.db"),
        ("sqlite:///data/x.db?mode=rwc", "data/x.db"),
    ],
)
def test_sqlite_urls_name_relative_and_absolute_files(url: str, path: str) -> None:
    assert sqlite_path(url) == path


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


BUDGET_KEY = ApiKey(key="sk-a", spend_limit=1.0)
FREE_KEY = ApiKey(key="sk-b")


@pytest.mark.parametrize(
    ("case", "api_keys", "database", "disable_logs", "on", "keeps_logs"),
    [
        ("no budget, no database", [FREE_KEY], False, False, False, None),
        ("a budget, no database: the default file", [BUDGET_KEY], False, False, True, True),
        ("a database, no budget", [FREE_KEY], True, False, True, True),
        ("a database with disable_spend_logs", [FREE_KEY], True, True, False, None),
        ("a budget with disable_spend_logs: totals only", [BUDGET_KEY], True, True, True, False),
    ],
)
def test_the_ledger_is_on_when_budgets_or_a_database_ask_for_it(
    case: str,
    api_keys: list,
    database: bool,
    disable_logs: bool,
    on: bool,
    keeps_logs: bool | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the default file lands in the working directory
    url = f"sqlite:///{tmp_path}/configured.db" if database else None
    plan = plan_ledger(settings(api_keys=api_keys, database_url=url, disable_spend_logs=disable_logs), {})
    assert (plan is not None) == on, case
    if plan is not None:
        assert plan.keep_logs == keeps_logs
        expected = tmp_path / ("configured.db" if database else "bedrock-proxy.db")
        assert expected.exists(), "the file is created at start-up, so a bad path fails before serving"


def test_key_management_keeps_the_ledger_on_with_disable_spend_logs(tmp_path: Path) -> None:
    """A master key and a database: generated keys' budgets need totals, even without per-request rows."""
    url = f"sqlite:///{tmp_path}/managed.db"
    managed = settings(master_key="sk-m", database_url=url, disable_spend_logs=True)
    plan = plan_ledger(managed, {})
    assert plan is not None and plan.keep_logs is False
    assert plan_ledger(settings(master_key="sk-m", disable_spend_logs=True), {}) is None  # no database named


def test_database_url_from_the_environment_is_used(tmp_path: Path) -> None:
    plan = plan_ledger(settings(api_keys=[BUDGET_KEY]), {"DATABASE_URL": f"sqlite:///{tmp_path}/env.db"})
    assert plan is not None and (tmp_path / "env.db").exists()


def test_an_unwritable_location_fails_at_start_up_with_advice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/spend.db"
    with pytest.raises(SpendStoreError) as raised:
        plan_ledger(settings(api_keys=[BUDGET_KEY], database_url=url), {})
    assert "missing-dir/spend.db" in str(raised.value) and "DATABASE_URL" in str(raised.value)


OLD_SQLITE_LOGS = """CREATE TABLE spend_logs (request_id TEXT NOT NULL, key_id TEXT NOT NULL,
 key_alias TEXT NOT NULL, model TEXT NOT NULL, bedrock_model_id TEXT NOT NULL, kind TEXT NOT NULL,
 spend REAL NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
 start_time REAL NOT NULL, end_time REAL NOT NULL)"""


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """A store written by a gateway from before estimated charges: one old row, and no `estimated` column."""
    old_row = ("old", "k", "a", "m", "x", "chat", 0.5, 1, 1, 1.0, 1.0)
    if request.param == "sqlite":
        with sqlite3.connect(tmp_path / "spend.db") as db:
            db.execute(OLD_SQLITE_LOGS)
            db.execute("INSERT INTO spend_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", old_row)
        return lambda: SqliteSpendStore(tmp_path / "spend.db")
    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url) as conn:
        conn.execute(POSTGRES_V3[0])
        conn.execute(
            "CREATE TABLE bedrock_proxy_migrations (version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        conn.execute("INSERT INTO bedrock_proxy_migrations (version) VALUES (1)")
        conn.execute("INSERT INTO spend_logs VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", old_row)
    return lambda: PostgresSpendStore(url)


async def test_an_older_store_gains_the_estimated_flag_and_keeps_its_rows(old_store: StoreMaker) -> None:
    store = old_store()
    await store.open()
    try:
        cut_short = SpendEntry("cut", "k", "a", "m", "x", 0.25, 10, 200, 2.0, 3.0, estimated=True)
        await store.record([cut_short])
        rows = {row.request_id: row for row in await store.logs()}
        assert rows["cut"] == cut_short and rows["cut"].estimated
        assert rows["old"].spend == 0.5 and not rows["old"].estimated
    finally:
        await store.close()
