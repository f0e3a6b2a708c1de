"""A shared store that goes away (a real redis-server killed, stalled, restarted): limits keep answering at
once from the per-process store (or refuse with 503 when failing closed), the outage is reported once, and
shared limits resume by themselves when Redis is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.router.state import Check, Option
from bedrock_proxy.router.state_failover import FailoverState
from bedrock_proxy.router.state_redis import RedisState
from tests.cache.redis_server import RedisServer, redis_server

RPM = [Option((Check("rpm:*", 1000),))]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def failover(redis: RedisServer, changes: list[bool], mode: str = "open") -> FailoverState:
    return FailoverState(
        RedisState(url=redis.url, timeout=0.1),
        fail_mode=mode,
        timeout=0.1,
        retry_interval=0.3,
        on_change=lambda up, reason: changes.append(up),
    )


async def test_redis_down_fails_open_once_then_shared_limits_resume_without_a_restart(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    changes: list[bool] = []
    state = failover(redis, changes)
    await state.start()
    assert (await state.choose(RPM)).admitted and redis.entries() == 1
    redis.kill()
    caplog.set_level(logging.WARNING, "bedrock_proxy.router")
    started = time.monotonic()
    for _ in range(50):
        assert (await state.choose(RPM)).admitted
        await state.settle([("tpm:*", 5)], [("inflight:*", "someone")])
    assert time.monotonic() - started < 1.0, "a dead Redis costs the requests (almost) nothing"
    assert changes == [False], "one outage, reported once"
    outage_lines = [r for r in caplog.records if "shared rate-limit store" in r.getMessage()]
    assert len(outage_lines) == 1 and "its own limits" in outage_lines[0].getMessage()
    redis.restart()  # empty, as after a crash
    await asyncio.sleep(0.35)
    assert (await state.choose(RPM)).admitted
    assert changes == [False, True]
    total = redis.command("HGET", "{bedrock-proxy}:rpm:*", "t").split(b"\r\n")[1]
    assert total == b"1", "the admission was counted in Redis again"
    await state.aclose()


async def test_a_stalled_redis_is_treated_as_down_within_the_timeout(redis: RedisServer) -> None:
    changes: list[bool] = []
    state = failover(redis, changes)
    await state.start()
    assert redis.command("CLIENT", "PAUSE", "1000").startswith(b"+OK")  # every client's commands wait 1 s
    started = time.monotonic()
    assert (await state.choose(RPM)).admitted
    assert time.monotonic() - started < 0.3
    assert changes == [False]
    await state.aclose()


async def test_failing_closed_refuses_with_a_503_while_redis_is_down(redis: RedisServer) -> None:
    changes: list[bool] = []
    state = failover(redis, changes, mode="closed")
    redis.kill()
    await state.start()  # unreachable at start: a warning, not a crash
    with pytest.raises(GatewayError) as refused:
        await state.choose(RPM)
    error = refused.value
    assert (error.status, error.type, error.code) == (503, "service_unavailable", "shared_state_unavailable")
    assert "redis_fail_mode" in error.message
    await state.settle([("tpm:*", -5)], [("inflight:*", "h")])  # giving back never fails
    assert changes == [False]
    redis.restart()
    await asyncio.sleep(0.35)
    assert (await state.choose(RPM)).admitted
    assert changes == [False, True]
    await state.aclose()


async def test_budgets_and_claims_keep_answering_from_the_process_while_redis_is_down(
    redis: RedisServer,
) -> None:
    changes: list[bool] = []
    state = failover(redis, changes)
    await state.start()
    assert (await state.reserve("budget:k", "shared", 0.5, 1.0, 0.0, 60)).admitted
    redis.kill()
    down = await state.reserve("budget:k", "local", 0.5, 1.0, 0.0, 60)
    assert down.admitted and down.reserved == 0, "the process's own book: the shared one is out of reach"
    assert not (await state.reserve("budget:k", "local-2", 0.6, 1.0, 0.0, 60)).admitted
    await state.release("budget:k", "local", 0.4)  # given back where it was taken, its cost counted there
    assert (await state.reserve("budget:k", "local-3", 0.1, 1.0, 0.0, 60)).spent == pytest.approx(0.4)
    assert await state.claim("alert:x", 10) and not await state.claim("alert:x", 10)
    assert changes == [False]
    redis.restart()
    await asyncio.sleep(0.35)
    back = await state.reserve("budget:k", "shared-2", 0.1, 1.0, 0.4, 60)
    assert back.admitted and back.spent == pytest.approx(0.4), "Redis again, seeded by the caller's ledger"
    assert changes == [False, True]
    await state.aclose()
