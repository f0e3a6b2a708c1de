"""Window leases against a real redis-server: several stores, each as one gateway process holds it (behind
FailoverState, as wired), share limits as exactly as without leases, while a busy process asks Redis far
less often than once per request."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator

import pytest

from bedrock_proxy.router.state import COOLING, Check, Option
from bedrock_proxy.router.state_failover import FailoverState
from bedrock_proxy.router.state_redis import RedisState
from tests.cache.redis_server import RedisServer, redis_server

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIFETIME = 0.1


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def process(redis: RedisServer, lifetime: float = LIFETIME) -> FailoverState:
    shared = RedisState(url=redis.url, timeout=2.0, bounded=False, window_leases=lifetime)
    return FailoverState(shared, timeout=2.0)


@pytest.fixture
async def processes(redis: RedisServer) -> AsyncIterator[list[FailoverState]]:
    redis.command("FLUSHALL")
    stores = [process(redis) for _ in range(3)]
    for store in stores:
        await store.start()
    yield stores
    for store in stores:
        await store.aclose()


def script_calls(redis: RedisServer) -> int:
    stats = redis.command("INFO", "commandstats").decode()
    return sum(int(n) for n in re.findall(r"cmdstat_eval(?:sha)?:calls=(\d+)", stats))


def rpm(limit: float, key: str = "rpm:d") -> list[Option]:
    return [Option((Check(key, limit),))]


async def admitted_until_refused(store: FailoverState, options: list[Option]) -> int:
    """Sequential admissions on `store` until the first refusal: how many were admitted."""
    admitted = 0
    while (await store.choose(options)).admitted:
        admitted += 1
    return admitted


def pttl(redis: RedisServer, key: str) -> int:
    return int(redis.command("PTTL", key).decode().strip().lstrip(":"))


async def test_sequential_admissions_across_three_processes_admit_exactly_the_limit(
    processes: list[FailoverState], redis: RedisServer
) -> None:
    before = script_calls(redis)
    admitted = [(await processes[i % 3].choose(rpm(300))).admitted for i in range(310)]
    assert admitted == [True] * 300 + [False] * 10, "leases never admit past the limit nor refuse below it"
    # near the limit (room under 32) every admission is asked in Redis, and each lease is reported once
    assert script_calls(redis) - before < 310 / 2, "most admissions were decided from a lease, without Redis"
    refused = await processes[0].choose(rpm(300))
    assert refused.leased == 0 and 55 <= refused.waits[0] <= 60, (
        "a real refusal says when the minute has room"
    )


async def test_a_busy_process_under_concurrency_asks_redis_for_few_of_its_admissions(
    processes: list[FailoverState], redis: RedisServer
) -> None:
    store = processes[0]
    before = script_calls(redis)

    async def requests() -> None:  # one connection's requests, one after another
        for _ in range(400):
            assert (await store.choose(rpm(10**9), [Check("rpm:*", 10**9)])).admitted
            await asyncio.sleep(0.0005)  # the rest of a request's work

    await asyncio.gather(*(requests() for _ in range(32)))
    calls = script_calls(redis) - before
    # leases renewed before they end: no moment without one sends all 32 requests to Redis
    # (without renewal, each lease's end sent all 32 to Redis: about 390 calls here; with it, about 90)
    assert calls < 32 * 400 * 0.016, f"{calls} Redis calls for {32 * 400} admissions"


async def test_concurrent_admissions_across_three_processes_never_pass_the_limit(
    processes: list[FailoverState],
) -> None:
    async def burst(store: FailoverState) -> list[bool]:
        return [
            choice.admitted for choice in await asyncio.gather(*(store.choose(rpm(400)) for _ in range(200)))
        ]

    rounds = await asyncio.gather(*(burst(store) for store in processes))
    admitted = sum(sum(one) for one in rounds)
    assert admitted == 400, "the limit, exactly: leased units others did not use were waited for"


async def test_a_refusal_caused_only_by_other_processes_leases_waits_for_them(
    processes: list[FailoverState],
) -> None:
    first, second, _ = processes
    for _ in range(40):  # busy: `first` holds a lease with room to spare
        assert (await first.choose(rpm(100))).admitted
    # `second` uses the rest; near the end only `first`'s unused lease units are left
    admitted = await admitted_until_refused(second, rpm(100))
    assert 40 + admitted == 100, "second waited for first's lease to end instead of refusing early"


async def test_a_crashed_process_s_lease_is_counted_as_used_after_its_grace(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    crashed, alive = process(redis), process(redis)
    await crashed.start()
    await alive.start()
    for _ in range(20):
        assert (await crashed.choose(rpm(200))).admitted
    shared = crashed.shared
    assert isinstance(shared, RedisState) and shared.leases is not None
    (lease,) = shared.leases._live.values()
    stranded = lease.units - lease.used
    shared.leases = None  # the process dies: its leases are never reported
    if shared._reporting is not None:
        shared._reporting.cancel()
    admitted = await admitted_until_refused(alive, rpm(200))
    # the last requests waited for the crashed lease until Redis swept it (a second after its end)
    assert 20 + admitted + stranded == 200, "only the crashed lease's unused units were lost, never passed"
    refused = await alive.choose(rpm(200))
    assert not refused.admitted and refused.leased == 0, "swept as used: an ordinary refusal, no more waiting"
    await alive.aclose()


async def test_a_lease_granted_to_a_call_that_timed_out_is_given_back(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    asking = FailoverState(RedisState(url=redis.url, timeout=0.1, bounded=False), timeout=0.1)
    other = process(redis)
    await asking.start()
    await other.start()
    for _ in range(50):  # busy: its next call to Redis asks for a lease
        assert (await asking.choose(rpm(1000))).admitted
    shared = asking.shared
    assert isinstance(shared, RedisState) and shared.leases is not None
    shared.leases.end_all()
    os.kill(redis.process.pid, signal.SIGSTOP)  # Redis stalls: the call times out, Redis runs it later
    try:
        assert (await asking.choose(rpm(1000))).admitted, "failed open to per-process limits"
        await asyncio.sleep(0.3)
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    await asyncio.sleep(0.3)
    fields = redis.command("HKEYS", "{bedrock-proxy}:rpm:d").decode()
    assert "L:" not in fields, "no lease is left that no process knows of"
    counted = int(float(redis.command("HGET", "{bedrock-proxy}:rpm:d", "t").decode().split()[1]))
    admitted = await admitted_until_refused(other, rpm(1000))
    assert counted + admitted == 1000, "the minute still admits exactly its limit"
    await asking.aclose()
    await other.aclose()


async def test_a_correction_past_a_lease_is_seen_by_other_processes_at_once(
    processes: list[FailoverState],
) -> None:
    first, second, _ = processes
    option = [Option((Check("tpm:d", 1000, 10, 10),))]
    for _ in range(5):
        assert (await first.choose(option)).admitted  # a lease of some tens of tokens
    await first.settle([("tpm:d", 900)], ())  # an answer far larger than estimated
    assert (await second.read(["tpm:d"], (), ())).total("tpm:d") >= 900
    assert not (await second.choose([Option((Check("tpm:d", 1000, 200, 200),))])).admitted


async def test_a_leased_window_that_nothing_was_added_to_yet_still_expires(
    processes: list[FailoverState], redis: RedisServer
) -> None:
    key_tpm = [Option((Check("key:k:tpm", 10_000, 1, 0),))]  # a key's tpm: counted when the answer ends
    for _ in range(10):
        assert (await processes[0].choose(key_tpm)).admitted
    fields = redis.command("HKEYS", "{bedrock-proxy}:key:k:tpm").decode()
    assert "L:" in fields, "leased"
    ttl = pttl(redis, "{bedrock-proxy}:key:k:tpm")
    assert 0 < ttl <= 62_000


async def test_closing_a_process_gives_its_unused_lease_units_back_at_once(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    leaving, staying = process(redis, lifetime=30.0), process(redis, lifetime=30.0)
    await leaving.start()
    await staying.start()
    for _ in range(30):
        assert (await leaving.choose(rpm(1000))).admitted
    await leaving.aclose()  # a lease of 30 s would otherwise hold its units that long
    assert (await staying.read(["rpm:d"], (), ())).total("rpm:d") == 30
    admitted = await admitted_until_refused(staying, rpm(1000))
    assert admitted == 970
    await staying.aclose()


async def test_token_corrections_are_counted_once_whether_in_a_lease_or_in_redis(
    processes: list[FailoverState],
) -> None:
    first, second, _ = processes
    option = [Option((Check("tpm:d", 100_000, 500, 500),))]
    for _ in range(10):
        assert (await first.choose(option)).admitted
        await first.settle([("tpm:d", -400)], ())  # each answer used 100 tokens, not 500
    assert (await first.read(["tpm:d"], (), ())).total("tpm:d") == 1000, (
        "this process sees its own use at once"
    )
    await asyncio.sleep(LIFETIME + 0.05)  # the lease ends and is reported
    assert (await second.read(["tpm:d"], (), ())).total("tpm:d") == 1000, "and every process once reported"


async def test_a_deployment_s_own_failure_ends_its_leases_so_its_cooldown_holds_at_once(
    processes: list[FailoverState],
) -> None:
    store = processes[0]
    options = [
        Option((Check("rpm:bad", 1000),), "cooldown:bad"),
        Option((Check("rpm:good", 1000),), "cooldown:good"),
    ]
    for _ in range(10):
        assert (await store.choose(options)).index == 0
    assert (await store.fail("fails:bad", "cooldown:bad", 0, 60))[1]
    choice = await store.choose(options)
    assert choice.index == 1 and choice.blocked_by[0] == COOLING


async def test_without_leases_every_admission_asks_redis(redis: RedisServer) -> None:
    redis.command("FLUSHALL")
    store = process(redis, lifetime=0)
    await store.start()
    before = script_calls(redis)
    for _ in range(50):
        assert (await store.choose(rpm(1000))).admitted
    assert script_calls(redis) - before == 50
    await store.aclose()


async def test_redis_keys_of_a_leased_window_keep_their_hash_slot_and_ttl(
    processes: list[FailoverState], redis: RedisServer
) -> None:
    for _ in range(20):
        await processes[0].choose(rpm(1000))
    keys = redis.command("KEYS", "*").decode()
    assert "{bedrock-proxy}:rpm:d" in keys
    ttl = pttl(redis, "{bedrock-proxy}:rpm:d")
    assert 0 < ttl <= 62_000
    fields = redis.command("HKEYS", "{bedrock-proxy}:rpm:d").decode()
    assert "L:" in fields, "the lease is recorded in the window itself (one key, one slot)"
