"""Retries: which errors, how many times, where to, and how long to wait; timeouts that always fire."""

from __future__ import annotations

import asyncio
import time

import pytest

from bedrock_proxy.observability.metrics import GatewayMetrics
from bedrock_proxy.router.policy import backoff
from tests.router.support import (
    Upstream,
    access_denied,
    deployments,
    fails,
    fails_first,
    hangs,
    router,
    run,
    run_error,
    sleeps,
    throttled,
    unavailable,
    validation,
)


async def test_a_group_with_one_failing_deployment_answers_every_request_from_the_healthy_one() -> None:
    r = router("model_list:\n" + deployments("m", 2) + "router_settings:\n  cooldown_time: 0\n")
    upstream = Upstream(m_0=fails(unavailable))
    for _ in range(100):
        _, trace = await run(r, upstream, "m")
        assert trace.deployment.deployment_id == "m-1"
        assert trace.attempts[-1].status == 200
        assert len(trace.attempts) == upstream_calls_for(trace)
    assert upstream.calls["m-1"] == 100


def upstream_calls_for(trace) -> int:
    return len([a for a in trace.attempts if a.status])


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (throttled, True),
        (unavailable, True),
        (validation, False),
    ],
    ids=["throttling", "unavailable", "validation"],
)
async def test_only_retryable_errors_are_retried(error, retried: bool) -> None:
    r = router("model_list:\n" + deployments("m", 1) + "litellm_settings:\n  num_retries: 3\n")
    upstream = Upstream(m_0=fails_first(1, error))
    if retried:
        _, trace = await run(r, upstream, "m")
        assert [a.status for a in trace.attempts] == [error().status, 200]
    else:
        failure, trace = await run_error(r, upstream, "m")
        assert failure.status == 400
        assert len(trace.attempts) == 1
    assert upstream.calls["m-0"] == (2 if retried else 1)


async def test_num_retries_bounds_the_attempts_on_a_throttled_group() -> None:
    r = router("model_list:\n" + deployments("m", 1) + "litellm_settings:\n  num_retries: 4\n")
    upstream = Upstream(m_0=fails(throttled))
    error, trace = await run_error(r, upstream, "m")
    assert error.status == 429 and error.code == "bedrock_throttled"
    assert upstream.calls["m-0"] == 5 == len(trace.attempts)


@pytest.mark.parametrize(
    ("policy", "attempts"),
    [("RateLimitErrorRetries: 0", 1), ("RateLimitErrorRetries: 6", 7), ("InternalServerErrorRetries: 0", 3)],
)
async def test_retry_policy_sets_the_retries_per_error_class(policy: str, attempts: int) -> None:
    r = router(
        "model_list:\n"
        + deployments("m", 1)
        + f"router_settings:\n  num_retries: 2\n  retry_policy:\n    {policy}\n"
    )
    upstream = Upstream(m_0=fails(throttled))
    await run_error(r, upstream, "m")
    assert upstream.calls["m-0"] == attempts


async def test_a_deployments_max_retries_overrides_num_retries() -> None:
    r = router("model_list:\n" + deployments("m", 1, max_retries=1) + "litellm_settings:\n  num_retries: 5\n")
    upstream = Upstream(m_0=fails(throttled))
    await run_error(r, upstream, "m")
    assert upstream.calls["m-0"] == 2


async def test_a_retry_goes_to_another_healthy_deployment_without_waiting() -> None:
    r = router(
        "model_list:\n" + deployments("m", 2) + "router_settings:\n  retry_after: 5\n  cooldown_time: 0\n"
    )
    for _ in range(20):
        upstream = Upstream(m_0=fails(throttled), m_1=fails_first(0, throttled))
        started = time.monotonic()
        _, trace = await run(r, upstream, "m")
        assert time.monotonic() - started < 2, "switching deployment should not wait retry_after"
        assert trace.deployment.deployment_id == "m-1"
        assert upstream.calls["m-0"] <= 1


async def test_an_access_denied_deployment_is_not_retried_itself_but_another_deployment_is_tried() -> None:
    r = router("model_list:\n" + deployments("m", 2) + "router_settings:\n  cooldown_time: 0\n")
    upstream = Upstream(m_0=fails(access_denied))
    for _ in range(20):
        await run(r, upstream, "m")
    single = router("model_list:\n" + deployments("m", 1))
    upstream = Upstream(m_0=fails(access_denied))
    error, _ = await run_error(single, upstream, "m")
    assert error.status == 403 and upstream.calls["m-0"] == 1


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    samples = [backoff(0, 0.5, 0.0, None) for _ in range(200)]
    assert all(0.25 <= s <= 0.5 for s in samples) and len(set(samples)) > 100
    assert all(1.0 <= backoff(2, 0.5, 0.0, None) <= 2.0 for _ in range(100))
    assert all(backoff(10, 0.5, 0.0, None) <= 8.0 for _ in range(100))
    assert backoff(0, 0.5, 0.0, 3.0) == 3.0
    assert backoff(0, 0.5, 10.0, 3.0) == 10.0


@pytest.mark.parametrize(
    "section", ["router_settings", "litellm_settings"], ids=["litellm shape", "seed shape"]
)
async def test_retrying_the_same_deployment_waits_at_least_retry_after(section: str) -> None:
    r = router("model_list:\n" + deployments("m", 1) + f"{section}:\n  retry_after: 0.3\n")
    upstream = Upstream(m_0=fails_first(2, throttled))
    started = time.monotonic()
    await run(r, upstream, "m")
    assert time.monotonic() - started >= 0.6


async def test_an_upstream_retry_after_is_honoured() -> None:
    def throttled_with_pause():
        error = throttled()
        error.retry_after = 0.4
        return error

    r = router("model_list:\n" + deployments("m", 1))
    upstream = Upstream(m_0=fails_first(1, throttled_with_pause))
    started = time.monotonic()
    await run(r, upstream, "m")
    assert time.monotonic() - started >= 0.4


async def test_retries_never_outlive_the_request_timeout() -> None:
    r = router(
        "model_list:\n"
        + deployments("m", 1)
        + "litellm_settings:\n  num_retries: 50\n  request_timeout: 0.5\n"
        + "router_settings:\n  retry_after: 0.2\n"
    )
    upstream = Upstream(m_0=fails(unavailable))
    started = time.monotonic()
    error, _ = await run_error(r, upstream, "m")
    assert time.monotonic() - started < 0.5 + 0.3
    assert error.status in (408, 503)
    assert upstream.calls["m-0"] <= 3


@pytest.mark.parametrize(
    ("yaml", "stream", "expected"),
    [
        ("litellm_settings:\n  request_timeout: 7\n", False, 7.0),
        ("router_settings:\n  timeout: 9\n", False, 9.0),
        ("router_settings:\n  timeout: 9\n  stream_timeout: 2\n", True, 2.0),
        ("router_settings:\n  timeout: 9\n  stream_timeout: 2\n", False, 9.0),
    ],
    ids=[
        "seed request_timeout",
        "litellm timeout",
        "stream_timeout for streams",
        "stream_timeout not for calls",
    ],
)
async def test_each_attempt_gets_the_configured_timeout(yaml: str, stream: bool, expected: float) -> None:
    r = router("model_list:\n" + deployments("m", 1) + yaml)
    upstream = Upstream()
    await run(r, upstream, "m", stream=stream)
    assert upstream.timeouts[0] == pytest.approx(expected, abs=0.05)


async def test_a_deployments_own_timeout_and_stream_timeout_win() -> None:
    r = router(
        "model_list:\n"
        + deployments("m", 1, timeout=3, stream_timeout=1)
        + "router_settings:\n  timeout: 9\n"
    )
    upstream = Upstream()
    await run(r, upstream, "m")
    await run(r, upstream, "m", stream=True)
    assert upstream.timeouts == [pytest.approx(3.0, abs=0.05), pytest.approx(1.0, abs=0.05)]


async def test_an_attempt_that_ignores_its_timeout_is_cut_off_by_the_router() -> None:
    r = router("model_list:\n" + deployments("m", 1, timeout=0.3) + "litellm_settings:\n  num_retries: 0\n")
    upstream = Upstream(m_0=hangs)
    started = time.monotonic()
    error, trace = await run_error(r, upstream, "m")
    assert 0.3 <= time.monotonic() - started < 1.5
    assert error.status == 408 and error.type == "timeout_error"
    assert trace.attempts[0].error_type == "Timeout"


async def test_a_timed_out_attempt_is_retried_on_another_deployment() -> None:
    r = router("model_list:\n" + deployments("m", 2, timeout=0.2) + "router_settings:\n  cooldown_time: 0\n")
    upstream = Upstream(m_0=hangs)
    for _ in range(5):
        _, trace = await run(r, upstream, "m")
        assert trace.deployment.deployment_id == "m-1"


async def test_retries_are_counted_in_metrics() -> None:
    metrics = GatewayMetrics()
    r = router("model_list:\n" + deployments("m", 1), metrics=metrics)
    await run(r, Upstream(m_0=fails_first(2, throttled)), "m")
    body = metrics.render()[0].decode()
    assert (
        'bedrock_proxy_retries_total{deployment="m-0",error_type="ThrottlingException",model_group="m"} 2.0'
        in body
    )


async def test_a_cancelled_request_gives_back_its_in_flight_slot() -> None:
    r = router("model_list:\n" + deployments("m", 1, max_parallel_requests=1))
    task = asyncio.create_task(run(r, Upstream(m_0=sleeps(5)), "m"))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await run(r, Upstream(), "m")  # the slot is free again
