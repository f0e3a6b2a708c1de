"""The control store's contract, the same tests on SQLite, PostgreSQL and MariaDB (real servers): keys,
teams and users, change versions, budgets and their resets, the idempotent ledger and its reports."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bedrock_proxy.control.location import store_for_url
from bedrock_proxy.control.records import Budget, KeyRecord, Limits, SpendEntry, TeamRecord, UserRecord
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.control.store import EVERYTHING, Conflict
from bedrock_proxy.keys import key_id
from tests.control.support import dump, query

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlControlStore]:
    opened = store_for_url(database_url)
    await opened.open()
    yield opened
    await opened.close()


def new_key(alias: str | None = None, **fields: object) -> tuple[str, KeyRecord]:
    """A plaintext key (shown once) and its record (which holds only the digest)."""
    plaintext = "sk-" + secrets.token_urlsafe(24)
    record = KeyRecord(key_id(plaintext), f"sk-...{plaintext[-4:]}", key_alias=alias, created_at=NOW)
    return plaintext, replace(record, **fields)  # type: ignore[arg-type]


def spent(
    request_id: str, key: str, cost: float, when: float = NOW, model: str = "claude-3-haiku"
) -> SpendEntry:
    return SpendEntry(request_id, key, "alias", model, "anthropic.x", cost, 10, 20, when - 1, when)


# ------------------------------------------------------------------------------------------ records


async def test_a_key_reads_back_as_written_and_only_its_digest_is_stored(
    store: SqlControlStore, database_url: str
) -> None:
    plaintext, record = new_key(
        "ci-bot",
        models=("claude-3-haiku", "claude-*"),
        budget=Budget(
            max_budget=10.0, soft_budget=8.0, budget_duration="30d", budget_reset_at=NOW + 30 * DAY
        ),
        limits=Limits(rpm_limit=60, tpm_limit=10_000, max_parallel_requests=2),
        team_id="team-a",
        user_id="ana",
        expires=NOW + DAY,
        metadata={"owner": "ana", "tags": ["ci", "é"]},
    )
    await store.insert_key(record)
    assert await store.get_key(record.key_id) == record
    assert await store.get_key(key_id("sk-unknown")) is None
    text = dump(database_url)
    assert record.key_id in text and plaintext not in text and plaintext[3:] not in text
    if database_url.startswith("sqlite"):  # the file itself, and its write-ahead log
        path = Path(database_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
        assert record.key_id.encode() in raw and plaintext[3:].encode() not in raw


async def test_a_plaintext_key_is_refused_where_a_digest_belongs(store: SqlControlStore) -> None:
    plaintext, record = new_key("careless")
    with pytest.raises(ValueError, match="SHA-256 hex digest"):
        await store.insert_key(replace(record, key_id=plaintext))
    await store.insert_key(record)
    with pytest.raises(ValueError, match="SHA-256 hex digest"):
        await store.rekey(record.key_id, "sk-" + secrets.token_urlsafe(24), "sk-...abcd")
    assert await store.list_keys() == [record]


async def test_duplicates_are_refused_naming_the_field(store: SqlControlStore) -> None:
    _, first = new_key("shared-alias")
    await store.insert_key(first)
    with pytest.raises(Conflict) as same_id:
        await store.insert_key(replace(first, key_alias="other"))
    assert same_id.value.field == "key_id"
    _, second = new_key("shared-alias")
    with pytest.raises(Conflict) as same_alias:
        await store.insert_key(second)
    assert same_alias.value.field == "key_alias"
    await store.insert_key(replace(second, key_alias="second"))
    with pytest.raises(Conflict, match="key_alias"):
        await store.update_key(second.key_id, {"key_alias": "shared-alias"})
    assert (await store.get_key(second.key_id)).key_alias == "second"  # type: ignore[union-attr]


async def test_updates_change_the_named_fields_and_nothing_else(store: SqlControlStore) -> None:
    _, record = new_key("k", models=("a",), budget=Budget(max_budget=5.0))
    await store.insert_key(record)
    updated = await store.update_key(
        record.key_id, {"models": ["b", "c"], "max_budget": 7.5, "blocked": True, "metadata": {"x": 1}}
    )
    assert updated is not None
    assert updated.models == ("b", "c") and updated.budget.max_budget == 7.5 and updated.blocked
    assert updated.metadata == {"x": 1} and updated.key_alias == "k" and updated.updated_at > 0
    assert await store.get_key(record.key_id) == updated
    assert await store.update_key(key_id("sk-missing"), {"blocked": True}) is None
    with pytest.raises(ValueError, match="no updatable field key_name"):
        await store.update_key(record.key_id, {"key_name": "sk-...xxxx"})


async def test_regenerating_a_key_keeps_its_settings_and_spend_under_the_new_digest(
    store: SqlControlStore,
) -> None:
    _, record = new_key("rotated", budget=Budget(max_budget=3.0))
    await store.insert_key(record)
    await store.record([spent("r1", record.key_id, 0.25)])
    new_plaintext = "sk-" + secrets.token_urlsafe(24)
    moved = await store.rekey(record.key_id, key_id(new_plaintext), "sk-...new1")
    assert moved is not None and moved.key_id == key_id(new_plaintext) and moved.key_name == "sk-...new1"
    assert moved.key_alias == "rotated" and moved.budget.spend == 0.25 and moved.budget.max_budget == 3.0
    assert await store.get_key(record.key_id) is None
    assert (await store.totals())[moved.key_id] == 0.25
    assert await store.rekey(record.key_id, key_id("sk-x"), "sk-...x") is None


async def test_lists_filter_and_page_and_deletes_say_what_they_deleted(store: SqlControlStore) -> None:
    records = [new_key(f"k{i}", team_id="t1" if i % 2 else "t2", created_at=NOW + i)[1] for i in range(5)]
    for record in records:
        await store.insert_key(record)
    assert [r.key_alias for r in await store.list_keys()] == ["k0", "k1", "k2", "k3", "k4"]
    assert [r.key_alias for r in await store.list_keys(team_id="t1")] == ["k1", "k3"]
    assert [r.key_alias for r in await store.list_keys(offset=1, limit=2)] == ["k1", "k2"]
    assert len(await store.list_keys(limit=None)) == 5
    gone = await store.delete_keys([records[0].key_id, key_id("sk-never"), records[0].key_id])
    assert gone == [records[0].key_id]
    assert [r.key_alias for r in await store.list_keys()] == ["k1", "k2", "k3", "k4"]


async def test_teams_and_users_are_kept_like_keys(store: SqlControlStore) -> None:
    team = TeamRecord("team-a", "Team A", ("claude-3-haiku",), Budget(max_budget=50.0), Limits(rpm_limit=5))
    await store.insert_team(team)
    with pytest.raises(Conflict):
        await store.insert_team(team)
    assert await store.get_team("team-a") == team
    renamed = await store.update_team("team-a", {"team_alias": "A team", "blocked": True})
    assert renamed is not None and renamed.team_alias == "A team" and renamed.blocked
    user = UserRecord("ana", "ana@example.com", "internal_user", budget=Budget(max_budget=1.0))
    await store.insert_user(user)
    assert await store.get_user("ana") == user
    assert [u.user_id for u in await store.list_users()] == ["ana"]
    assert [t.team_id for t in await store.list_teams()] == ["team-a"]
    assert await store.delete_teams(["team-a", "team-b"]) == ["team-a"]
    assert await store.delete_users(["ana"]) == ["ana"]
    assert await store.get_team("team-a") is None and await store.get_user("ana") is None


# ------------------------------------------------------------------------------------------ changes


async def test_every_management_write_bumps_the_version_and_spend_does_not(store: SqlControlStore) -> None:
    start = await store.version()
    _, a = new_key("a")
    _, b = new_key("b")
    await store.insert_key(a)
    await store.insert_key(b)
    await store.insert_team(TeamRecord("t"))
    middle = await store.version()
    assert middle == start + 3
    await store.update_key(a.key_id, {"blocked": True})
    await store.record([spent("r1", a.key_id, 1.0)])  # spend is read with spends(), not via versions
    assert await store.changed_since(middle) == (middle + 1, [("key", a.key_id)])
    assert await store.changed_since(start) == (
        middle + 1,
        [("key", a.key_id), ("key", b.key_id), ("team", "t")],
    )
    assert await store.changed_since(middle + 1) == (middle + 1, [])


async def test_a_reader_older_than_the_change_log_is_told_to_reload_everything(database_url: str) -> None:
    clock = [NOW]
    store = store_for_url(database_url)
    store.clock = lambda: clock[0]
    await store.open()
    try:
        _, record = new_key("busy")
        await store.insert_key(record)
        clock[0] += 2 * DAY  # two days of changes later, the first ones are pruned
        for n in range(70):
            await store.update_key(record.key_id, {"metadata": {"n": n}})
        current, changed = await store.changed_since(0)
        assert current == await store.version() and changed == [EVERYTHING]
        assert (await store.changed_since(current - 1))[1] == [("key", record.key_id)]
    finally:
        await store.close()


async def test_concurrent_writers_on_two_connections_get_distinct_versions(database_url: str) -> None:
    stores = [store_for_url(database_url) for _ in range(2)]
    for one in stores:
        await one.open()
    try:
        records = [new_key(f"c{i}")[1] for i in range(20)]
        await asyncio.gather(*(stores[i % 2].insert_key(record) for i, record in enumerate(records)))
        version, changed = await stores[0].changed_since(0)
        assert version == 20 and sorted(changed) == sorted(("key", r.key_id) for r in records)
    finally:
        for one in stores:
            await one.close()


# ------------------------------------------------------------------------------------------ the ledger


async def test_a_retried_batch_whose_first_commit_succeeded_counts_once(
    store: SqlControlStore, database_url: str
) -> None:
    await store.insert_team(TeamRecord("team-a"))
    await store.insert_user(UserRecord("ana"))
    _, record = new_key("k", team_id="team-a", user_id="ana")
    await store.insert_key(record)
    batch = [spent(f"req-{i}", record.key_id, 0.5) for i in range(3)]
    await store.record(batch)
    await store.record(batch)  # the first commit succeeded but its answer was lost: the sink retries
    await store.record([batch[1], spent("req-3", record.key_id, 0.5)])  # overlapping: only req-3 is new
    assert await store.totals() == {record.key_id: 2.0}
    spends = await store.spends()
    assert spends[("key", record.key_id)] == spends[("team", "team-a")] == spends[("user", "ana")] == 2.0
    rows = await store.spend_logs()
    assert sorted(row.request_id for row in rows) == ["req-0", "req-1", "req-2", "req-3"]
    assert {(row.team_id, row.user_id) for row in rows} == {("team-a", "ana")}
    report = await store.spend_report(start=NOW, end=NOW, group_by="key")
    assert report == [
        {"key_id": record.key_id, "spend": 2.0, "requests": 4, "prompt_tokens": 40, "completion_tokens": 80}
    ]
    assert query(database_url, "SELECT COUNT(*) FROM spend_logs") == [(4,)]


async def test_without_logs_a_retried_batch_still_counts_once(
    store: SqlControlStore, database_url: str
) -> None:
    batch = [spent("req-a", "config-key", 0.75), spent("req-b", "config-key", 0.25)]
    await store.record(batch, keep_logs=False)
    await store.record(batch, keep_logs=False)
    assert await store.totals() == {"config-key": 1.0}
    assert await store.spend_logs() == []
    assert query(database_url, "SELECT COUNT(*) FROM spend_logs") == [(0,)]


async def test_two_processes_writing_the_same_batch_at_once_count_it_once(database_url: str) -> None:
    stores = [store_for_url(database_url) for _ in range(3)]
    for one in stores:
        await one.open()
    try:
        batches = [[spent(f"r{n}-{i}", "k", 0.125) for i in range(10)] for n in range(6)]
        # every batch written by all three, concurrently
        await asyncio.gather(*(one.record(batch) for batch in batches for one in stores))
        assert await stores[0].totals() == {"k": 6 * 10 * 0.125}
    finally:
        for one in stores:
            await one.close()


async def test_spend_logs_filter_by_key_team_user_model_and_time(store: SqlControlStore) -> None:
    entries = [
        replace(spent("r1", "k1", 0.1, NOW - 3 * DAY), team_id="t1", user_id="u1"),
        replace(spent("r2", "k2", 0.2, NOW - 2 * DAY, model="titan"), team_id="t2", user_id="u1"),
        replace(spent("r3", "k1", 0.3, NOW - DAY), team_id="t1", user_id="u2"),
    ]
    await store.record(entries)
    ids = [row.request_id for row in await store.spend_logs()]
    assert ids == ["r3", "r2", "r1"]  # newest first
    assert [r.request_id for r in await store.spend_logs(key_id="k1")] == ["r3", "r1"]
    assert [r.request_id for r in await store.spend_logs(team_id="t2")] == ["r2"]
    assert [r.request_id for r in await store.spend_logs(user_id="u1")] == ["r2", "r1"]
    assert [r.request_id for r in await store.spend_logs(model="titan")] == ["r2"]
    window = await store.spend_logs(start=NOW - 2.5 * DAY, end=NOW - 1.5 * DAY)
    assert [r.request_id for r in window] == ["r2"]
    assert [r.request_id for r in await store.spend_logs(limit=1)] == ["r3"]
    assert (await store.spend_logs(key_id="k1"))[0] == entries[2]


async def test_the_report_groups_daily_sums_by_team_key_model_and_day(store: SqlControlStore) -> None:
    day1, day2 = NOW, NOW + DAY
    await store.record(
        [
            replace(spent("a", "k1", 1.0, day1), team_id="t1"),
            replace(spent("b", "k1", 2.0, day2), team_id="t1"),
            replace(spent("c", "k2", 4.0, day2, model="titan"), team_id="t2"),
            replace(spent("d", "k3", 8.0, day2 + 3 * DAY), team_id="t2"),  # outside the window
        ]
    )
    by_team = await store.spend_report(start=day1, end=day2, group_by="team")
    assert [(row["team_id"], row["spend"], row["requests"]) for row in by_team] == [
        ("t2", 4.0, 1),
        ("t1", 3.0, 2),
    ]
    by_day = await store.spend_report(start=day1, end=day2, group_by="day")
    assert [(row["day"], row["spend"]) for row in by_day] == [("2026-03-14", 1.0), ("2026-03-15", 6.0)]
    by_model = await store.spend_report(start=day1, end=day2, group_by="model")
    assert [(row["model"], row["spend"]) for row in by_model] == [("titan", 4.0), ("claude-3-haiku", 3.0)]
    breakdown = await store.spend_report(start=day1, end=day2, group_by=["day", "team"])
    assert [(row["day"], row["team_id"], row["spend"]) for row in breakdown] == [
        ("2026-03-14", "t1", 1.0),
        ("2026-03-15", "t2", 4.0),
        ("2026-03-15", "t1", 2.0),
    ]
    with pytest.raises(ValueError, match="'customer'"):
        await store.spend_report(start=day1, end=day2, group_by="customer")


# ------------------------------------------------------------------------------------------ budgets


async def test_budgets_reset_when_their_period_ends_once_however_many_processes_ask(
    database_url: str,
) -> None:
    stores = [store_for_url(database_url) for _ in range(2)]
    for one in stores:
        await one.open()
    try:
        store = stores[0]
        periodic = Budget(max_budget=1.0, budget_duration="30s", budget_reset_at=NOW + 30)
        _, record = new_key("monthly", budget=periodic, team_id="t")
        await store.insert_key(record)
        await store.insert_team(TeamRecord("t", budget=replace(periodic, budget_duration="1mo")))
        _, lifelong = new_key("for-life", budget=Budget(max_budget=1.0))
        await store.insert_key(lifelong)
        await store.record([spent("r1", record.key_id, 0.75), spent("r2", lifelong.key_id, 0.5)])
        assert await store.reset_budgets(NOW + 29) == 0
        version = await store.version()
        assert sorted(await asyncio.gather(*(one.reset_budgets(NOW + 31) for one in stores))) == [0, 2]
        after = await store.get_key(record.key_id)
        assert after is not None and after.budget.spend == 0.0 and after.budget.budget_reset_at == NOW + 61
        team = await store.get_team("t")
        assert team is not None and team.budget.spend == 0.0
        assert team.budget.budget_reset_at == datetime(2026, 4, 14, 12, 0, 31, tzinfo=UTC).timestamp()
        assert (await store.get_key(lifelong.key_id)).budget.spend == 0.5  # type: ignore[union-attr]
        assert (await store.totals())[record.key_id] == 0.75  # the lifetime total is not a budget period
        assert sorted((await store.changed_since(version))[1]) == [("key", record.key_id), ("team", "t")]
    finally:
        for one in stores:
            await one.close()


async def test_a_duration_without_a_reset_time_starts_its_period_without_losing_spend(
    store: SqlControlStore,
) -> None:
    _, record = new_key("k")
    await store.insert_key(record)
    await store.record([spent("r1", record.key_id, 0.5)])
    await store.update_key(record.key_id, {"budget_duration": "1d"})
    assert await store.reset_budgets(NOW) == 1
    after = await store.get_key(record.key_id)
    assert after is not None and after.budget.spend == 0.5 and after.budget.budget_reset_at == NOW + DAY


def test_time_is_not_read_from_the_database_clock() -> None:
    """The stores never call NOW() or similar: every time is the caller's epoch seconds (one clock)."""
    assert abs(NOW - datetime(2026, 3, 14, 12, tzinfo=UTC).timestamp()) < 1 and time.time() > 0


async def test_two_calls_a_client_sent_with_the_same_request_id_are_both_paid_for(
    store: SqlControlStore,
) -> None:
    """x-request-id comes from the client: reusing one must not make a second call free."""
    first, second = spent("client-id", "k", 0.5, NOW), spent("client-id", "k", 0.5, NOW + 5)
    await store.record([first])
    await store.record([second, first])  # the second call, in a batch that retries the first
    assert await store.totals() == {"k": 1.0}
    assert len(await store.spend_logs(key_id="k")) == 2
