"""Each routing strategy's choice, checked over many requests (distributions, not single samples)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bedrock_proxy.config.loader import inspect_text
from bedrock_proxy.config.schema import Config, Settings
from bedrock_proxy.router.router import CallTrace, Router
from tests.router.support import HAIKU, SONNET, Upstream, config, deployments, ok, router, run, sleeps

REQUESTS = 2000


async def picks(r: Router, model: str, count: int = REQUESTS) -> Counter[str]:
    upstream = Upstream()
    for _ in range(count):
        await run(r, upstream, model)
    return upstream.calls


@pytest.mark.parametrize(
    ("params", "expected_share_of_first"),
    [
        ({"weight": [3, 1]}, 0.75),
        ({"rpm": [1000, 3000]}, 0.25),
        ({"tpm": [1000, 1000]}, 0.5),
        ({}, 0.5),
    ],
    ids=["weight", "rpm", "tpm", "equal"],
)
async def test_simple_shuffle_shares_requests_by_weight_else_rpm_else_tpm(
    params: dict, expected_share_of_first: float
) -> None:
    text = "model_list:\n" + deployments("m", 2, **params)
    calls = await picks(router(text), "m")
    share = calls["m-0"] / REQUESTS
    assert abs(share - expected_share_of_first) < 0.05, calls


async def test_least_busy_sends_the_next_request_to_the_deployment_with_fewest_in_flight() -> None:
    text = "model_list:\n" + deployments("m", 3) + "router_settings:\n  routing_strategy: least-busy\n"
    r = router(text)
    upstream = Upstream(m_0=sleeps(0.3), m_1=sleeps(0.3), m_2=sleeps(0.3))
    # 30 concurrent requests over 3 deployments: least-busy keeps them level (10 each); random would not
    results = await asyncio.gather(*(run_in_ticket(r, upstream) for _ in range(30)))
    assert len(results) == 30
    assert sorted(upstream.calls.values()) == [10, 10, 10]


async def run_in_ticket(r: Router, upstream: Upstream) -> object:
    trace = CallTrace("m")
    async with r.admit(trace):
        return await r.run("m", upstream, trace, allowed=None)


async def test_least_busy_counts_a_request_in_flight_until_its_ticket_ends() -> None:
    text = "model_list:\n" + deployments("m", 2) + "router_settings:\n  routing_strategy: least-busy\n"
    r = router(text)
    upstream = Upstream()
    held = CallTrace("m")
    async with r.admit(held):
        await r.run("m", upstream, held, allowed=None)  # answered, its stream would still be running
        busy = held.deployment.deployment_id
        calls = await picks(r, "m", 50)
    assert calls[busy] == 0, "the deployment still streaming gets no new request while another is idle"
    assert sum(calls.values()) == 50


async def test_usage_based_routing_prefers_the_deployment_with_most_headroom_this_minute() -> None:
    text = (
        "model_list:\n"
        + deployments("m", 2, rpm=[100, 1000])
        + "router_settings:\n  routing_strategy: usage-based-routing\n"
    )
    calls = await picks(router(text), "m", 220)
    # equal used fractions means 1 request to m-0 for every 10 to m-1
    assert 15 <= calls["m-0"] <= 25, calls
    assert calls["m-0"] + calls["m-1"] == 220


async def test_latency_based_routing_sends_most_requests_to_the_fastest_deployment() -> None:
    text = (
        "model_list:\n"
        + deployments("m", 2)
        + "router_settings:\n  routing_strategy: latency-based-routing\n"
    )
    r = router(text)
    upstream = Upstream(m_0=sleeps(0.03), m_1=sleeps(0.001))
    for _ in range(60):
        await run(r, upstream, "m")
    assert upstream.calls["m-1"] >= 55, upstream.calls
    assert upstream.calls["m-0"] >= 1, "every deployment is measured at least once"


async def test_latency_based_routing_with_a_buffer_spreads_over_deployments_close_to_the_best() -> None:
    text = (
        "model_list:\n"
        + deployments("m", 2)
        + "router_settings:\n  routing_strategy: latency-based-routing\n"
        + "  routing_strategy_args:\n    lowest_latency_buffer: 1.0\n"
    )
    r = router(text)
    upstream = Upstream(m_0=sleeps(0.006), m_1=sleeps(0.005))
    for _ in range(80):
        await run(r, upstream, "m")
    assert min(upstream.calls.values()) >= 15, upstream.calls


async def test_cost_based_routing_picks_the_cheapest_deployment_by_the_pricing_table() -> None:
    text = (
        "model_list:\n"
        + deployments("m", 1, model=SONNET)
        + deployments("m", 1, model=HAIKU).replace("m-0", "m-1")
        + "router_settings:\n  routing_strategy: cost-based-routing\n"
    )
    calls = await picks(router(text), "m", 50)
    assert calls == {"m-1": 50}


async def test_cost_based_routing_honours_a_deployments_own_cost_override() -> None:
    text = (
        "model_list:\n"
        + deployments("m", 2, input_cost_per_token=[0.001, 0.000001], output_cost_per_token=[0.001, 0.000001])
        + "router_settings:\n  routing_strategy: cost-based-routing\n"
    )
    calls = await picks(router(text), "m", 50)
    assert calls == {"m-1": 50}


def test_an_unknown_strategy_is_refused_at_start_up_with_the_valid_names() -> None:
    loaded = config("model_list:\n" + deployments("m", 1))
    bad = Config(loaded.deployments, Settings(routing_strategy="fastest"))
    with pytest.raises(ValueError) as raised:
        Router(bad)
    for name in ("simple-shuffle", "least-busy", "usage-based-routing", "latency-based-routing"):
        assert name in str(raised.value)


def test_an_unknown_strategy_in_config_yaml_is_a_config_error_listing_the_valid_ones() -> None:
    loaded = inspect_text(
        "model_list:\n" + deployments("m", 1) + "router_settings:\n  routing_strategy: fastest\n", environ={}
    )
    messages = " ".join(str(issue) for issue in loaded.errors)
    assert "least-busy" in messages and "cost-based-routing" in messages


async def test_a_one_deployment_group_always_gets_its_deployment() -> None:
    calls = await picks(router("model_list:\n" + deployments("m", 1)), "m", 20)
    assert calls == {"m-0": 20}
    assert ok()["stopReason"] == "end_turn"
