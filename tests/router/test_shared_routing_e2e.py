"""Routing statistics and alert counters are shared through Redis (issue 12): a gateway routes on the traffic
other gateways sent, and an alert on a failure burst spread over two gateways fires once.

Two gateways of different configs share one Redis: the first knows only one deployment of a group, the
second knows two. What the first sends can only reach the second's routing through the shared store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.cache.redis_server import RedisServer, redis_server
from tests.e2e.support import eventually
from tests.router.e2e import deployment
from tests.router.test_shared_limits_e2e import Gateway, gateways
from tests.support.processes import emulator_process

pytestmark = pytest.mark.asyncio(loop_scope="session")

MASTER = "sk-shared-routing"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process("--no-verify") as url:
        yield url


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def routed(model_list: str, strategy: str, redis_url: str, extra: str = "") -> str:
    return (
        "model_list:\n"
        + model_list
        + f"router_settings:\n  routing_strategy: {strategy}\n  redis_url: {redis_url}\n  num_retries: 0\n"
        + f"general_settings:\n  master_key: {MASTER}\n"
        + extra
    )


async def deployments_used(gateway: str, model: str, count: int, prompt: str = "Bonjour") -> list[str]:
    """The deployment that answered each of `count` sequential chat completions (the SDK's raw response)."""
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key=MASTER, max_retries=0, timeout=30)
    used = []
    try:
        for _ in range(count):
            answer = await client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": prompt}]
            )
            used.append(answer.headers["x-bedrock-proxy-deployment"])
            await asyncio.sleep(0.05)  # the answer's usage and latency are written after it went out
    finally:
        await client.close()
    return used


async def test_usage_based_routing_sees_the_tokens_another_gateway_used(
    emulator: str, redis: RedisServer, tmp_path: Path
) -> None:
    url = redis.url.replace("/0", "/4")
    only_first = routed(deployment("u", "u-0"), "usage-based-routing", url)
    both = routed(deployment("u", "u-0") + deployment("u", "u-1"), "usage-based-routing", url)
    with (
        gateways(only_first, tmp_path, emulator) as (first,),
        gateways(both, tmp_path, emulator) as (second,),
    ):
        assert set(await deployments_used(first.url, "u", 8)) == {"u-0"}
        # u-0 used about 8 answers' tokens this minute, u-1 none: the second gateway fills u-1 first
        assert await deployments_used(second.url, "u", 4) == ["u-1"] * 4


async def test_latency_based_routing_knows_the_latency_another_gateway_measured(
    emulator: str, redis: RedisServer, tmp_path: Path
) -> None:
    url = redis.url.replace("/0", "/5")
    slow = deployment("l", "l-slow", aws_bedrock_runtime_endpoint=f"{emulator}/_emu/latency=0.3")
    fast = deployment("l", "l-fast")
    only_slow, both = (routed(d, "latency-based-routing", url) for d in (slow, slow + fast))
    with gateways(only_slow, tmp_path, emulator) as (first,), gateways(both, tmp_path, emulator) as (second,):
        assert await deployments_used(first.url, "l", 2) == ["l-slow"] * 2
        # alone, the second gateway would try the unmeasured l-slow as soon as it had measured l-fast
        assert await deployments_used(second.url, "l", 3) == ["l-fast"] * 3


def failure_alerts(started: list[Gateway]) -> int:
    return sum(g.output().count("alert: bedrock-proxy: model group broken failed") for g in started)


async def test_a_failure_burst_spread_over_two_gateways_alerts_once(
    emulator: str, redis: RedisServer, tmp_path: Path
) -> None:
    url = redis.url.replace("/0", "/6")
    broken = deployment("broken", "broken-0", aws_bedrock_runtime_endpoint=f"{emulator}/_emu/fault=internal")
    config = routed(broken, "simple-shuffle", url, "  alerting: [webhook]\n  alerting_threshold: 5\n")
    with gateways(config, tmp_path, emulator, count=2) as started:
        async with httpx.AsyncClient(timeout=30) as client:
            for index in range(10):  # five on each: alone, each process would reach the threshold once
                reply = await client.post(
                    f"{started[index % 2].url}/v1/chat/completions",
                    headers={"Authorization": f"Bearer {MASTER}"},
                    json={"model": "broken", "messages": [{"role": "user", "content": "Bonjour"}]},
                )
                assert reply.status_code >= 500
        eventually(lambda: failure_alerts(started), message="no gateway alerted on the burst")
        await asyncio.sleep(2.0)  # the records of both gateways are counted: a second alert would be here
        assert failure_alerts(started) == 1, [g.output()[-2000:] for g in started]
