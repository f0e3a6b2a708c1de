"""The key directory: what a generated key may do is decided from memory, refreshed from the store; its
budgets count this process's spend at once and exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bedrock_proxy.control.directory import KeyDirectory
from bedrock_proxy.control.records import Budget, KeyRecord, TeamRecord, UserRecord
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.observability.record import CallRecord
from tests.control.memory_store import MemoryStore

NOW = 1_800_000_000.0


def key(kid: str = "k1", **fields: Any) -> KeyRecord:
    return KeyRecord(key_id=kid, key_name=f"sk-...{kid}", **fields)


def record(kid: str, cost: float, request_id: str, start: float = NOW) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        kind="chat",
        model_group="m",
        deployment_id="d",
        bedrock_model_id="anthropic.claude-3-haiku-20240307-v1:0",
        region="eu-west-1",
        start_time=start,
        end_time=start,
        status=200,
        api_key_id=kid,
        cost=cost,
    )


async def started(store: MemoryStore, **options: Any) -> KeyDirectory:
    directory = KeyDirectory(store, clock=lambda: NOW, refresh_seconds=3600, **options)
    await directory.start()
    return directory


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_key_takes_its_teams_models_when_it_has_none() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        await store.insert_team(TeamRecord("t", models=("claude-*",)))
        await store.insert_key(key("k1", team_id="t"))
        await store.insert_key(key("k2", team_id="t", models=("nova-lite",)))
        await store.insert_key(key("k3", team_id="t", models=("claude-3-haiku", "nova-lite")))
        directory = await started(store)
        one, two = directory.authenticate("k1"), directory.authenticate("k2")
        assert one is not None and one.models == frozenset({"claude-*"}) and one.may_use("claude-3-haiku")
        # a key's own models never reach past its team's (the team may have narrowed its list since)
        assert two is not None and not two.may_use("nova-lite") and not two.may_use("claude-3-haiku")
        assert two.team_refuses("nova-lite") and two.team_name == "t"
        three = directory.authenticate("k3")
        assert three is not None and three.models == frozenset({"claude-3-haiku"})
        assert three.may_use("claude-3-haiku") and not three.may_use("nova-lite")
        assert directory.authenticate("unknown") is None

    run(scenario())


@pytest.mark.parametrize(
    ("fields", "team", "code"),
    [
        ({"blocked": True}, None, ErrorCode.KEY_BLOCKED),
        ({"expires": NOW - 1}, None, ErrorCode.KEY_EXPIRED),
        ({"team_id": "t"}, TeamRecord("t", blocked=True), ErrorCode.TEAM_BLOCKED),
        ({"team_id": "gone"}, None, ErrorCode.TEAM_BLOCKED),
    ],
    ids=["blocked", "expired", "team-blocked", "team-deleted"],
)
def test_refusals_say_why(fields: dict[str, Any], team: TeamRecord | None, code: ErrorCode) -> None:
    async def scenario() -> None:
        store = MemoryStore()
        if team is not None:
            await store.insert_team(team)
        await store.insert_key(key("k1", key_alias="ci", **fields))
        directory = await started(store)
        with pytest.raises(GatewayError) as refused:
            directory.authenticate("k1")
        assert refused.value.status == 401 and refused.value.code == code
        assert "'ci'" in refused.value.message or "team" in refused.value.message

    run(scenario())


def test_a_change_written_elsewhere_is_seen_at_the_next_refresh() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        await store.insert_key(key("k1"))
        directory = await started(store)
        assert directory.authenticate("k1") is not None
        await store.update_key("k1", {"blocked": True})  # another process
        assert directory.authenticate("k1") is not None  # not yet refreshed: still the cached record
        await directory.refresh()
        with pytest.raises(GatewayError):
            directory.authenticate("k1")
        await store.delete_keys(["k1"])
        await directory.refresh()
        assert directory.authenticate("k1") is None

    run(scenario())


def test_spend_counts_at_once_and_once_after_the_ledger_wrote_it() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        await store.insert_team(TeamRecord("t", budget=Budget(max_budget=1.0)))
        await store.insert_user(UserRecord("u", budget=Budget(max_budget=5.0)))
        await store.insert_key(key("k1", team_id="t", user_id="u", budget=Budget(max_budget=0.5)))
        directory = await started(store)
        identity = directory.authenticate("k1")
        assert identity is not None
        directory.observe(record("k1", 0.25, "r1"))
        directory.observe(record("k1", 0.25, "r1"))  # the same record twice counts once
        lines = {line.kind: line for line in directory.budget_lines(identity)}
        assert {kind: line.spent for kind, line in lines.items()} == {"key": 0.25, "team": 0.25, "user": 0.25}
        # the ledger commits it, the store now holds it: counted once, not twice
        directory.written([("r1", NOW)])
        store.spend = {("key", "k1"): 0.25, ("team", "t"): 0.25, ("user", "u"): 0.25}
        await directory.refresh()
        assert directory.spend("key", "k1") == 0.25 and directory.spend("team", "t") == 0.25
        # a client that reuses its x-request-id: another call (another start), counted too
        directory.observe(record("k1", 0.25, "r1", start=NOW + 5))
        assert directory.spend("key", "k1") == 0.5

    run(scenario())


def test_a_soft_budget_alerts_once_per_period() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        await store.insert_key(key("k1", key_alias="ci", budget=Budget(soft_budget=0.1, max_budget=1.0)))
        alerts: list[tuple[str, str]] = []
        directory = await started(store, on_soft_budget=lambda kind, name, *_: alerts.append((kind, name)))
        directory.observe(record("k1", 0.05, "r1"))
        assert alerts == []
        directory.observe(record("k1", 0.06, "r2"))
        directory.observe(record("k1", 0.06, "r3"))
        assert alerts == [("key", "ci")]

    run(scenario())


def test_a_proxy_admin_users_key_may_manage() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        await store.insert_user(UserRecord("boss", user_role="proxy_admin"))
        await store.insert_user(UserRecord("dev", user_role="internal_user"))
        await store.insert_key(key("k1", user_id="boss"))
        await store.insert_key(key("k2", user_id="dev"))
        directory = await started(store)
        admin, dev = directory.authenticate("k1"), directory.authenticate("k2")
        assert admin is not None and dev is not None
        assert directory.is_admin(admin) and not directory.is_admin(dev)

    run(scenario())
