"""Cooldowns after repeated failures, and the rpm / tpm / max_parallel_requests limits with their 429s."""

from __future__ import annotations

import asyncio
import time

import pytest

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.metrics import GatewayMetrics
from bedrock_proxy.router.router import CallTrace
from bedrock_proxy.router.state import Check, InMemoryState, Option
from tests.router.support import Upstream, deployments, fails, router, run, run_error, sleeps, unavailable

COOLDOWN = "router_settings:\n  allowed_fails: {fails}\n  cooldown_time: {seconds}\n"


async def test_a_deployment_failing_more_than_allowed_fails_cools_down_and_gets_no_requests() -> None:
    r = router("model_list:\n" + deployments("m", 2) + COOLDOWN.format(fails=2, seconds=30))
    upstream = Upstream(m_0=fails(unavailable))
    for _ in range(40):
        await run(r, upstream, "m")
    assert upstream.calls["m-0"] == 3, "two failures are allowed, the third cools it down"
    assert r.deployment_states() == {"m-0": 2, "m-1": 0}


async def test_a_cooled_down_deployment_returns_to_service_after_cooldown_time() -> None:
    metrics = GatewayMetrics()
    r = router("model_list:\n" + deployments("m", 2) + COOLDOWN.format(fails=0, seconds=0.3), metrics=metrics)
    broken = True
    upstream = Upstream(m_0=lambda i: fails(unavailable)(i) if broken else {"stopReason": "end_turn"})
    while upstream.calls["m-0"] == 0:
        await run(r, upstream, "m")
    assert r.deployment_states()["m-0"] == 2
    assert (
        'bedrock_proxy_deployment_state{deployment="m-0",model_group="m"} 2.0' in metrics.render()[0].decode()
    )
    broken = False
    await asyncio.sleep(0.35)
    for _ in range(40):
        await run(r, upstream, "m")
    assert upstream.calls["m-0"] > 5
    assert r.deployment_states()["m-0"] == 0
    assert (
        'bedrock_proxy_deployment_state{deployment="m-0",model_group="m"} 0.0' in metrics.render()[0].decode()
    )


async def test_when_every_deployment_cools_down_the_client_gets_a_429_saying_when_to_retry() -> None:
    r = router("model_list:\n" + deployments("m", 2) + COOLDOWN.format(fails=0, seconds=20))
    upstream = Upstream(default=fails(unavailable))
    await run_error(r, upstream, "m")
    calls = sum(upstream.calls.values())
    error, trace = await run_error(r, upstream, "m")
    assert sum(upstream.calls.values()) == calls, "no upstream call while every deployment cools down"
    assert error.status == 429 and error.code == "deployments_cooling_down"
    assert "cooling down" in error.message and "retry in 20 s" in error.message
    assert 19 <= error.retry_after <= 20
    assert trace.attempts == []


async def test_the_only_deployment_of_a_group_never_cools_down() -> None:
    r = router("model_list:\n" + deployments("m", 1) + COOLDOWN.format(fails=0, seconds=20))
    upstream = Upstream(m_0=fails(unavailable))
    for _ in range(3):
        error, _ = await run_error(r, upstream, "m")
        assert error.code == "bedrock_unavailable"


async def admit_and_run(r, upstream: Upstream, model: str = "m", estimate: int = 0):
    trace = CallTrace(model)
    async with r.admit(trace, estimate) as ticket:
        result = await r.run(model, upstream, trace, allowed=None)
        ticket.record_usage(estimate)
    return result, trace


async def count_until_refused(r, count: int, estimate: int = 0) -> tuple[int, GatewayError | None]:
    upstream = Upstream()
    served = 0
    for _ in range(count):
        try:
            await admit_and_run(r, upstream, estimate=estimate)
        except GatewayError as error:
            return served, error
        served += 1
    return served, None


@pytest.mark.parametrize(
    "limits",
    ["litellm_settings:\n  rpm: 7\n", "router_settings:\n  rpm: 7\n"],
    ids=["seed litellm_settings.rpm", "router_settings.rpm"],
)
async def test_the_global_rpm_admits_exactly_rpm_requests_a_minute(limits: str) -> None:
    r = router("model_list:\n" + deployments("m", 1) + limits)
    served, error = await count_until_refused(r, 20)
    assert served == 7
    assert error is not None and error.status == 429 and error.code == "rpm_limit_exceeded"
    assert 1 <= error.retry_after <= 60 and "7 requests per minute" in error.message


async def test_the_global_tpm_counts_an_estimate_before_and_real_usage_after() -> None:
    r = router("model_list:\n" + deployments("m", 1) + "litellm_settings:\n  tpm: 1000\n")
    assert r.counts_tokens
    served, error = await count_until_refused(r, 50, estimate=300)
    assert served == 3 and error is not None and error.code == "tpm_limit_exceeded"
    r = router("model_list:\n" + deployments("m", 1) + "litellm_settings:\n  tpm: 1000\n")
    upstream = Upstream()
    for _ in range(5):  # estimated 300 each, but really 100 each: 5 fit
        trace = CallTrace("m")
        async with r.admit(trace, 300) as ticket:
            await r.run("m", upstream, trace, allowed=None)
            ticket.record_usage(100)


async def test_a_failed_request_gives_its_token_estimate_back() -> None:
    r = router("model_list:\n" + deployments("m", 1, tpm=1000) + "litellm_settings:\n  num_retries: 0\n")
    for _ in range(10):
        trace = CallTrace("m")
        with pytest.raises(GatewayError):
            async with r.admit(trace, 600):
                await r.run("m", Upstream(m_0=fails(unavailable)), trace, allowed=None)
    await admit_and_run(r, Upstream(), estimate=600)


@pytest.mark.parametrize(
    "limit",
    [
        "general_settings:\n  max_parallel_requests: 3\n",
        "general_settings:\n  global_max_parallel_requests: 3\n",
        "litellm_settings:\n  max_parallel_requests: 3\n",
    ],
    ids=["general_settings", "global_max_parallel_requests", "seed litellm_settings"],
)
async def test_global_max_parallel_requests_refuses_the_one_too_many_and_frees_slots_at_the_end(
    limit: str,
) -> None:
    r = router("model_list:\n" + deployments("m", 1) + limit)
    upstream = Upstream(m_0=sleeps(0.2))
    outcomes = await asyncio.gather(*(admit_and_run(r, upstream) for _ in range(5)), return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, GatewayError)]
    assert len(refused) == 2 and all(e.code == "max_parallel_requests_exceeded" for e in refused)
    assert all(e.status == 429 and e.retry_after for e in refused)
    outcomes = await asyncio.gather(*(admit_and_run(r, upstream) for _ in range(3)), return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, Exception)]


async def test_a_deployment_over_its_rpm_is_skipped_for_another_one() -> None:
    r = router("model_list:\n" + deployments("m", 2, rpm=[5, 1000], weight=[1000, 1]))
    upstream = Upstream()
    for _ in range(100):
        await run(r, upstream, "m")
    assert upstream.calls["m-0"] == 5


async def test_when_every_deployment_is_at_its_limit_the_client_gets_a_429_with_retry_after() -> None:
    r = router("model_list:\n" + deployments("m", 2, rpm=[2, 3]))
    upstream = Upstream()
    for _ in range(5):
        await run(r, upstream, "m")
    error, _ = await run_error(r, upstream, "m")
    assert error.status == 429 and error.code == "deployment_limit_exceeded"
    assert 1 <= error.retry_after <= 60
    assert sum(upstream.calls.values()) == 5


async def test_a_deployments_max_parallel_requests_sends_the_overflow_elsewhere() -> None:
    r = router("model_list:\n" + deployments("m", 2, max_parallel_requests=[2, None]))
    upstream = Upstream(default=sleeps(0.2))
    await asyncio.gather(*(admit_and_run(r, upstream) for _ in range(10)))
    assert upstream.calls["m-0"] <= 2


async def test_a_deployments_tpm_counts_real_usage_after_the_answer() -> None:
    r = router("model_list:\n" + deployments("m", 2, tpm=[1000, 100000]))
    upstream = Upstream()
    for _ in range(60):
        await admit_and_run(r, upstream, estimate=200)
    assert upstream.calls["m-0"] <= 5


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_minute_window_forgets_what_is_older_than_a_minute() -> None:
    clock = Clock(1000.0)
    store = InMemoryState(clock)
    await store.settle([("k", 5)], ())
    clock.now = 1030.5
    await store.settle([("k", 3)], ())
    clock.now = 1040.0
    refused = await store.choose([Option((Check("k", 8),))])
    assert not refused.admitted and refused.waits[0] == pytest.approx(20.0)
    assert (await store.choose([Option((Check("k", 10, 1, 0),))])).admitted
    clock.now = 1059.9
    assert (await store.read(["k"], (), ())).total("k") == 8
    clock.now = 1060.0
    assert (await store.read(["k"], (), ())).total("k") == 3
    clock.now = 1091.0
    assert (await store.read(["k"], (), ())).total("k") == 0


async def test_in_flight_slots_stop_at_their_limit_and_cooldowns_last_their_seconds() -> None:
    clock = Clock(time.monotonic())
    store = InMemoryState(clock)

    def slot(holder: str) -> list[Option]:
        return [Option((Check("s", 2, holder=holder),))]

    assert (await store.choose(slot("a"))).admitted and (await store.choose(slot("b"))).admitted
    assert not (await store.choose(slot("c"))).admitted
    await store.settle((), [("s", "a")])
    assert (await store.choose(slot("c"))).admitted
    assert (await store.read((), ["s"], ())).in_flight("s") == 2
    assert await store.fail("f", "d", 1, 5.0) == (1, False)
    assert await store.fail("f", "d", 1, 5.0) == (2, True)
    readings = await store.read((), (), ["d", "other"])
    assert readings.cooling_for("d") == 5.0 and readings.cooling_for("other") == 0.0
    clock.now += 5.0
    assert (await store.read((), (), ["d"])).cooling_for("d") == 0.0
