"""Throttling storms and gateway-wide limits, through real gateway processes, counted on both sides."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.router.e2e import chat, deployment, emulator_stats
from tests.support.processes import emulator_process, gateway_process

MASTER = "general_settings:\n  master_key: sk-router-test\n"


@pytest.fixture(scope="module")
def storm_emulator() -> Iterator[str]:
    with emulator_process("--no-verify", "--fault-rate", "throttling=0.3", "--seed", "7") as url:
        yield url


@pytest.fixture(scope="module")
def storm_gateway(storm_emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    text = (
        "model_list:\n"
        + deployment("pair", "pair-0")
        + deployment("pair", "pair-1")
        + deployment("single", "single-0")
        + "litellm_settings:\n  num_retries: 6\n"
        + "router_settings:\n  allowed_fails: 1000\n"
        + MASTER
    )
    with gateway_process(text, tmp_path_factory.mktemp("storm"), emulator_url=storm_emulator) as url:
        yield url


@pytest.mark.parametrize(("model", "requests"), [("pair", 60), ("single", 24)])
async def test_a_throttling_storm_is_absorbed_by_retries_and_no_request_is_lost_or_doubled(
    storm_gateway: str, storm_emulator: str, model: str, requests: int
) -> None:
    before = emulator_stats(storm_emulator)
    semaphore = asyncio.Semaphore(6)

    async def one(index: int):
        async with semaphore:
            return await chat(storm_gateway, model, f"question {index}")

    replies = await asyncio.gather(*(one(i) for i in range(requests)))
    after = emulator_stats(storm_emulator)
    assert [r.status for r in replies] == [200] * requests
    upstream = after["requests"] - before["requests"]
    throttled = after["by_status"].get("429", 0) - before["by_status"].get("429", 0)
    assert upstream == sum(r.attempts for r in replies)
    assert upstream - throttled == requests, "exactly one successful upstream call per request"
    assert throttled > 0, "the storm really happened"
    assert any(r.attempts > 1 for r in replies)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process("--no-verify") as url:
        yield url


@pytest.fixture(scope="module")
def parallel_gateway(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    text = (
        "model_list:\n"
        + deployment("m", "m-0")
        + "litellm_settings:\n  tpm: 3000\n"
        + "general_settings:\n  master_key: sk-router-test\n  max_parallel_requests: 2\n"
    )
    with gateway_process(text, tmp_path_factory.mktemp("parallel"), emulator_url=emulator) as url:
        yield url


@pytest.fixture(scope="module")
def rpm_gateway(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    text = "model_list:\n" + deployment("m", "m-0") + "litellm_settings:\n  rpm: 12\n" + MASTER
    with gateway_process(text, tmp_path_factory.mktemp("rpm"), emulator_url=emulator) as url:
        yield url


async def test_max_parallel_requests_refuses_what_is_over_the_limit_with_a_429(parallel_gateway: str) -> None:
    replies = await asyncio.gather(
        *(chat(parallel_gateway, "m", f"lent {i} [[emu:latency=1.5]]") for i in range(6))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [200, 200, 429, 429, 429, 429]
    refused = [r for r in replies if r.status == 429]
    assert all(r.body["error"]["code"] == "max_parallel_requests_exceeded" for r in refused)
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    again = await chat(parallel_gateway, "m")
    assert again.status == 200, "slots are given back when requests end"


async def test_the_seed_tpm_counts_real_usage_and_refuses_the_request_that_would_exceed_it(
    parallel_gateway: str,
) -> None:
    prompt = "mot " * 1000  # about 1,000 tokens in, about 50 out
    replies = [await chat(parallel_gateway, "m", prompt) for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 429, 429]
    used = sum(r.body["usage"]["total_tokens"] for r in replies[:2])
    assert used + 1000 > 3000 >= used
    assert replies[2].body["error"]["code"] == "tpm_limit_exceeded"
    assert 1 <= int(replies[2].headers["retry-after"]) <= 60


async def test_the_seed_rpm_admits_exactly_rpm_requests_then_answers_429(rpm_gateway: str) -> None:
    replies = [await chat(rpm_gateway, "m") for _ in range(15)]
    assert [r.status for r in replies] == [200] * 12 + [429] * 3
    assert replies[-1].body["error"]["code"] == "rpm_limit_exceeded"
    assert 1 <= int(replies[-1].headers["retry-after"]) <= 60
