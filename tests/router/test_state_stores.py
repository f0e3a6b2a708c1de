"""The three shared-state stores answer alike: the in-process one, the host's SQLite file, and Redis (a real
redis-server, its Lua scripts run by the server itself). Then what only a shared store must do: stay exact
when many clients admit at once, and keep every Redis key in one hash slot with a TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bedrock_proxy.router.state import COOLING, Check, InMemoryState, Option, SharedState
from bedrock_proxy.router.state_redis import RedisState
from bedrock_proxy.router.state_sqlite import SqliteState
from tests.cache.redis_server import RedisServer, redis_server, tls_redis_server

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the store fixture's loop: its client lives there


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis: RedisServer
) -> AsyncIterator[SharedState]:
    state: SharedState
    if request.param == "memory":
        state = InMemoryState()
    elif request.param == "sqlite":
        state = SqliteState(tmp_path / "limits.db")
    else:
        redis.command("FLUSHALL")
        state = RedisState(url=redis.url, timeout=2.0)
    await state.start()
    yield state
    await state.aclose()


def window(key: str, limit: float | None, needed: float = 1, amount: float = 1) -> Option:
    return Option((Check(key, limit, needed, amount),))


async def test_a_window_admits_exactly_its_limit_and_says_when_it_has_room(store: SharedState) -> None:
    admitted = [(await store.choose([window("rpm", 5)])).admitted for _ in range(8)]
    assert admitted == [True] * 5 + [False] * 3
    refused = await store.choose([window("rpm", 5)])
    assert refused.index == -1 and refused.blocked_by == (0,)
    assert 58 <= refused.waits[0] <= 60, "the oldest request leaves the minute in about 60 s"
    assert (await store.read(["rpm"], (), ())).total("rpm") == 5


async def test_tokens_count_an_estimate_then_the_correction(store: SharedState) -> None:
    assert (await store.choose([window("tpm", 1000, 600, 600)])).admitted
    assert not (await store.choose([window("tpm", 1000, 600, 600)])).admitted
    await store.settle([("tpm", -500)], ())  # the answer used 100
    assert (await store.choose([window("tpm", 1000, 600, 600)])).admitted
    assert (await store.read(["tpm"], (), ())).total("tpm") == 700
    too_big = await store.choose([window("tpm", 1000, 1001, 1001)])
    assert not too_big.admitted and too_big.waits[0] == 60, "never fits: a minute"


async def test_an_option_is_taken_whole_or_not_at_all(store: SharedState) -> None:
    both = Option((Check("a", 10), Check("b", 1)))
    assert (await store.choose([both])).admitted
    refused = await store.choose([both])
    assert not refused.admitted and refused.blocked_by == (1,)
    assert (await store.read(["a", "b"], (), ())).totals == {"a": 1, "b": 1}, "a was not counted again"


async def test_slots_are_held_by_name_until_given_back(store: SharedState) -> None:
    def slot(holder: str) -> list[Option]:
        return [Option((Check("inflight", 2, holder=holder),))]

    assert (await store.choose(slot("p1:1"))).admitted
    assert (await store.choose(slot("p2:1"))).admitted
    refused = await store.choose(slot("p1:2"))
    assert not refused.admitted and refused.waits == (1.0,)
    await store.settle((), [("inflight", "p2:1"), ("inflight", "unknown")])
    assert (await store.read((), ["inflight"], ())).in_flight("inflight") == 1
    assert (await store.choose(slot("p1:2"))).admitted


async def test_failures_past_allowed_fails_cool_a_key_down_once(store: SharedState) -> None:
    assert await store.fail("fails:d", "cooldown:d", 2, 30.0) == (1, False)
    assert await store.fail("fails:d", "cooldown:d", 2, 30.0) == (2, False)
    assert await store.fail("fails:d", "cooldown:d", 2, 30.0) == (3, True)
    assert await store.fail("fails:d", "cooldown:d", 2, 30.0) == (1, False), "the count starts again"
    assert await store.fail("fails:e", "cooldown:e", 0, 0.0) == (1, False), "no cooldown_time: counts only"
    assert 29 <= (await store.read((), (), ["cooldown:d"])).cooling_for("cooldown:d") <= 30
    choice = await store.choose(
        [Option((Check("x", 1),), "cooldown:d"), Option((Check("y", 1),), "cooldown:e")]
    )
    assert choice.index == 1 and choice.blocked_by == (COOLING, -1)
    assert 29 <= choice.waits[0] <= 30
    assert (await store.read(["x", "y"], (), ())).totals == {"x": 0, "y": 1}


async def test_a_short_cooldown_ends_on_time(store: SharedState) -> None:
    await store.fail("fails:s", "cooldown:s", 0, 0.3)
    assert not (await store.choose([Option((), "cooldown:s")])).admitted
    await asyncio.sleep(0.35)
    assert (await store.choose([Option((), "cooldown:s")])).admitted


async def test_many_clients_admitting_at_once_admit_exactly_the_limit(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Four clients stand for four gateway processes: 400 concurrent admissions against rpm 50."""
    redis.command("FLUSHALL")
    for make in (lambda: RedisState(url=redis.url, timeout=2.0), lambda: SqliteState(tmp_path / "l.db")):
        clients = [make() for _ in range(4)]
        for client in clients:
            await client.start()
        slot = 0

        async def admit(client: SharedState) -> bool:
            nonlocal slot
            slot += 1
            option = Option((Check("rpm:*", 50), Check("inflight:*", 30, holder=f"h{slot}")))
            return (await client.choose([option])).admitted

        results = await asyncio.gather(*(admit(clients[i % 4]) for i in range(400)))
        assert sum(results) == 30, "the 30 in-flight slots bind first: never more, whoever asks"
        readings = await clients[0].read(["rpm:*"], ["inflight:*"], ())
        assert readings.total("rpm:*") == 30 and readings.in_flight("inflight:*") == 30
        for client in clients:
            await client.aclose()


async def test_every_redis_key_is_in_one_hash_slot_and_expires(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    state = RedisState(url=redis.url, timeout=2.0, lease_seconds=700)
    await state.choose(
        [Option((Check("rpm:d", 5), Check("inflight:d", 5, holder="h"), Check("tpm:d", None, 1, 9)))]
    )
    await state.fail("fails:d", "cooldown:d", 5, 10.0)
    await state.fail("fails:e", "cooldown:e", 0, 10.0)
    keys = sorted(k.decode() for k in await state.client.keys("*"))
    assert keys == [
        "{bedrock-proxy}:cooldown:e",
        "{bedrock-proxy}:fails:d",
        "{bedrock-proxy}:inflight:d",
        "{bedrock-proxy}:rpm:d",
        "{bedrock-proxy}:tpm:d",
    ]
    # Redis Cluster hashes only what is between the first braces: one tag, one slot for every key
    assert {key.split("}", 1)[0] for key in keys} == {"{bedrock-proxy"}
    ttls = {key: await state.client.pttl(key) for key in keys}
    assert 0 < ttls["{bedrock-proxy}:cooldown:e"] <= 10_000
    assert 0 < ttls["{bedrock-proxy}:inflight:d"] <= 700_000
    for key in ("fails:d", "rpm:d", "tpm:d"):
        assert 60_000 < ttls["{bedrock-proxy}:" + key] <= 62_000, (
            "a minute window lives a little over a minute"
        )
    await state.aclose()


async def test_a_crashed_process_s_slot_frees_itself_when_its_lease_ends(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    crashed = RedisState(url=redis.url, timeout=2.0, lease_seconds=0.3)
    assert (await crashed.choose([Option((Check("inflight:*", 1, holder="gone:1"),))])).admitted
    await crashed.aclose()  # never released
    alive = RedisState(url=redis.url, timeout=2.0)
    assert not (await alive.choose([Option((Check("inflight:*", 1, holder="alive:1"),))])).admitted
    await asyncio.sleep(0.35)
    assert (await alive.choose([Option((Check("inflight:*", 1, holder="alive:1"),))])).admitted
    await alive.aclose()


async def test_common_checks_are_taken_with_the_admitted_option_only(store: SharedState) -> None:
    gateway = (Check("rpm:*", 2), Check("inflight:*", 5, holder="h1"))
    full = Option((Check("rpm:full", 0),))
    refused = await store.choose([full], gateway)
    assert not refused.admitted and refused.common_blocked == -1 and refused.blocked_by == (0,)
    readings = await store.read(["rpm:*"], ["inflight:*"], ())
    assert (readings.total("rpm:*"), readings.in_flight("inflight:*")) == (0, 0), "nothing taken"
    for holder in ("h1", "h2"):
        common = (Check("rpm:*", 2), Check("inflight:*", 5, holder=holder))
        admitted = await store.choose([full, window("rpm:d", 10)], common)
        assert admitted.index == 1 and admitted.blocked_by == (0, -1)
    readings = await store.read(["rpm:*", "rpm:d"], ["inflight:*"], ())
    assert (readings.total("rpm:*"), readings.total("rpm:d"), readings.in_flight("inflight:*")) == (2, 2, 2)
    over = await store.choose([window("rpm:d", 10)], gateway)
    assert not over.admitted and over.common_blocked == 0 and over.blocked_by == ()
    assert 58 <= over.common_wait <= 60
    assert (await store.read(["rpm:d"], (), ())).total("rpm:d") == 2, "the option was not looked at"


@pytest.mark.parametrize("idle", [61, 500], ids=["one-bucket-leaves", "long-idle-rebuild"])
async def test_a_redis_window_forgets_buckets_a_minute_old(redis: RedisServer, idle: int) -> None:
    """The window keeps a running total; buckets written here as if counted `idle` and 30 seconds ago."""
    redis.command("FLUSHALL")
    state = RedisState(url=redis.url, timeout=2.0)
    now = int((await state.client.time())[0])
    key = "{bedrock-proxy}:rpm:old"
    await state.client.hset(key, mapping={"t": 8, "o": now - idle, now - idle: 5, now - 30: 3})
    assert (await state.read(["rpm:old"], (), ())).total("rpm:old") == 3
    assert sorted(await state.client.hkeys(key)) == sorted([b"t", b"o", str(now - 30).encode()])
    refused = await state.choose([window("rpm:old", 3)])
    assert not refused.admitted and 29 <= refused.waits[0] <= 31, "room when the bucket of 30 s ago leaves"
    await state.aclose()


# ------------------------------------------------------------------------------ budgets and claims
async def test_a_budget_reserves_in_flight_calls_and_counts_settled_costs(store: SharedState) -> None:
    first = await store.reserve("budget:k", "a", 0.4, 1.0, 0.0, 60)
    assert (first.admitted, first.spent, first.reserved) == (True, 0.0, 0.0)
    second = await store.reserve("budget:k", "b", 0.4, 1.0, 0.0, 60)
    assert second.admitted and second.reserved == pytest.approx(0.4)
    third = await store.reserve("budget:k", "c", 0.4, 1.0, 0.0, 60)
    assert not third.admitted and third.reserved == pytest.approx(0.8), "0.4 more would pass the limit"
    assert (await store.reserve("budget:k", "c", 0.2, 1.0, 0.0, 60)).admitted, "a cheaper call fits"
    await store.release("budget:k", "a", 0.3)  # the first call cost 0.3: counted for everyone at once
    await store.release("budget:k", "b", 0.3)
    await store.release("budget:k", "c", 0.3)
    await store.release("budget:k", "c", 0.0)  # twice: the reservation is gone, nothing more is counted
    seen = await store.reserve("budget:k", "d", 5.0, 1.0, 0.0, 60)
    assert seen.admitted and seen.spent == pytest.approx(0.9) and seen.reserved == 0, "a lone call goes"
    await store.release("budget:k", "d", 0.2)
    refused = await store.reserve("budget:k", "e", 0.01, 1.0, 0.0, 60)
    assert not refused.admitted and refused.spent == pytest.approx(1.1)


async def test_a_budget_keeps_the_higher_of_its_count_and_the_caller_s_ledger(store: SharedState) -> None:
    low = await store.reserve("budget:l", "a", 0.1, 1.0, 0.5, 60)  # a ledger that read 0.5 spent
    assert low.admitted and low.spent == 0.5
    await store.release("budget:l", "a", 0.1)
    behind = await store.reserve("budget:l", "b", 0.1, 1.0, 0.2, 60)  # a ledger that lags behind
    assert behind.spent == pytest.approx(0.6)
    await store.release("budget:l", "b", 0.0)
    ahead = await store.reserve("budget:l", "c", 0.1, 1.0, 0.95, 60)  # one that saw more (Redis restarted)
    assert ahead.spent == 0.95


async def test_a_reservation_of_a_crashed_process_expires_by_its_ttl(store: SharedState) -> None:
    assert (await store.reserve("budget:t", "crashed", 0.9, 1.0, 0.0, 0.3)).admitted  # never released
    assert not (await store.reserve("budget:t", "alive", 0.9, 1.0, 0.0, 60)).admitted
    await asyncio.sleep(0.4)
    again = await store.reserve("budget:t", "alive", 0.9, 1.0, 0.0, 60)
    assert again.admitted and again.reserved == 0


async def test_a_claim_goes_to_the_first_caller_until_it_ends(store: SharedState) -> None:
    assert await store.claim("alert:x", 0.3)
    assert not await store.claim("alert:x", 0.3)
    assert await store.claim("alert:y", 0.3), "another subject"
    await asyncio.sleep(0.35)
    assert await store.claim("alert:x", 0.3)


async def test_many_clients_reserving_at_once_never_reserve_past_the_budget(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Four clients stand for four gateway processes: 200 concurrent calls of $0.25 on a budget of $8."""
    redis.command("FLUSHALL")
    for make in (lambda: RedisState(url=redis.url, timeout=2.0), lambda: SqliteState(tmp_path / "b.db")):
        clients = [make() for _ in range(4)]
        for client in clients:
            await client.start()
        results = await asyncio.gather(
            *(clients[i % 4].reserve("budget:*", f"h{i}", 0.25, 8.0, 0.0, 60) for i in range(200))
        )
        admitted = [booking for booking in results if booking.admitted]
        assert len(admitted) == 32, "exactly what the budget covers, whichever process asks"
        assert max(booking.reserved for booking in admitted) == 7.75
        for client in clients:
            await client.aclose()


async def test_a_redis_budget_is_one_key_in_the_hash_slot_that_outlives_its_reservations(
    redis: RedisServer,
) -> None:
    redis.command("FLUSHALL")
    state = RedisState(url=redis.url, timeout=2.0)
    await state.reserve("budget:k", "h", 0.1, 1.0, 0.0, 700)
    await state.claim("alert:s", 10)
    keys = sorted(k.decode() for k in await state.client.keys("*"))
    assert keys == ["{bedrock-proxy}:alert:s", "{bedrock-proxy}:budget:k"]
    assert 700_000 < await state.client.pttl("{bedrock-proxy}:budget:k") <= 86_400_000
    assert 0 < await state.client.pttl("{bedrock-proxy}:alert:s") <= 10_000
    await state.aclose()


async def test_the_redis_store_works_over_tls_as_elasticache_with_transit_encryption(tmp_path: Path) -> None:
    with tls_redis_server(tmp_path, password="s3cret") as (port, tls):
        state = RedisState(url=f"rediss://:s3cret@127.0.0.1:{port}/0?ssl_ca_certs={tls.ca}", timeout=2.0)
        await state.start()
        admitted = [(await state.choose([window("rpm:tls", 2)])).admitted for _ in range(3)]
        assert admitted == [True, True, False]
        assert (await state.reserve("budget:tls", "h", 0.5, 1.0, 0.0, 60)).admitted
        await state.aclose()
