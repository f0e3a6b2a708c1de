"""Budgets hold across gateway processes (issue 12): three `serve` processes on one Redis and one spend
database, and one `serve --num-workers 2`. The OpenAI SDK asks them in turn; each process's ledger re-reads
the database only once a minute here, so what keeps a process from spending what another already spent is
the shared store: reservations before each call, its real cost counted there as it is settled.

Sequential calls stop exactly where one process alone would stop (a call is admitted while spend is below
the limit); a concurrent burst spends at most the budget plus what was reserved in flight (the bound).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.cache.redis_server import RedisServer, redis_server
from tests.router.e2e import deployment
from tests.router.test_shared_limits_e2e import gateways, worker_requests
from tests.support.processes import emulator_process

pytestmark = pytest.mark.asyncio(loop_scope="session")

MASTER = "sk-shared-budget-master"
SEQUENTIAL, BURST = "sk-shared-budget-seq", "sk-shared-budget-burst"
MAX_TOKENS = 100
# one answer of exactly 100 output tokens on haiku costs about $0.000128 (reserved: about as much)
SEQUENTIAL_LIMIT = 0.00045  # 3.5 answers: the fourth call still starts below the limit, the fifth not
BURST_LIMIT = 0.00028  # two answers' reservations fit, a third does not
ESTIMATE_ERROR = 1.05  # a reservation prices the prompt's estimate, Bedrock counts the real prompt
PROMPT = "Bonjour [[emu:words=400,latency=0.5]]"


def budgets_config(redis_url: str | None) -> str:
    redis = f"router_settings:\n  redis_url: {redis_url}\n" if redis_url else ""
    return (
        "model_list:\n"
        + deployment("haiku", "haiku-0")
        + "litellm_settings:\n  num_retries: 0\n"
        + redis
        + "general_settings:\n"
        + f"  master_key: {MASTER}\n"
        + "  api_keys:\n"
        + f"    - {{key: {SEQUENTIAL}, alias: seq, spend_limit: {SEQUENTIAL_LIMIT}}}\n"
        + f"    - {{key: {BURST}, alias: burst, spend_limit: {BURST_LIMIT}}}\n"
    )


def shared_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/spend.db",  # one ledger for every process
        "BEDROCK_PROXY_SPEND_REFRESH_SECONDS": "60",  # no help from re-reading it during the test
    }


class Asker:
    """One OpenAI SDK client per gateway and key; call i goes to gateway i modulo their number."""

    def __init__(self, urls: list[str], *, fresh_connections: bool = False) -> None:
        self.urls = urls
        limits = httpx.Limits(max_keepalive_connections=0) if fresh_connections else httpx.Limits()
        self.limits = limits
        self.clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    def client(self, url: str, key: str) -> openai.AsyncOpenAI:
        if (url, key) not in self.clients:
            self.clients[(url, key)] = openai.AsyncOpenAI(
                base_url=f"{url}/v1",
                api_key=key,
                max_retries=0,
                http_client=httpx.AsyncClient(limits=self.limits, timeout=60),
            )
        return self.clients[(url, key)]

    async def ask(self, index: int, key: str) -> tuple[int, float]:
        """(status, the cost the gateway charged)."""
        client = self.client(self.urls[index % len(self.urls)], key)
        try:
            answer = await client.chat.completions.with_raw_response.create(
                model="haiku", messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS
            )
        except openai.RateLimitError as refused:
            assert refused.response.json()["error"]["type"] == "budget_exceeded"
            return 429, 0.0
        return 200, float(answer.headers["x-litellm-response-cost"])

    async def sequence(self, count: int, key: str, first: int = 0) -> list[tuple[int, float]]:
        outcomes = []
        for index in range(first, first + count):
            outcomes.append(await self.ask(index, key))
            await asyncio.sleep(0.05)  # the previous call's cost is written to the store after its answer
        return outcomes

    async def burst(self, count: int, key: str) -> list[tuple[int, float]]:
        return list(await asyncio.gather(*(self.ask(index, key) for index in range(count))))

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.close()


def expected_sequence(outcomes: list[tuple[int, float]], limit: float) -> list[int]:
    """What one process would answer: each call admitted while the spend before it is below the limit."""
    spent, expected = 0.0, []
    for _, cost in outcomes:
        expected.append(200 if spent < limit else 429)
        spent += cost
    return expected


def statuses(outcomes: list[tuple[int, float]]) -> list[int]:
    return [status for status, _ in outcomes]


async def check_budgets(asker: Asker) -> None:
    """The sequential key stops exactly; the burst key spends at most its budget and what was in flight."""
    sequential = await asker.sequence(7, SEQUENTIAL)
    assert statuses(sequential) == expected_sequence(sequential, SEQUENTIAL_LIMIT)
    assert statuses(sequential) == [200] * 4 + [429] * 3, "each process alone would admit 4 more"
    assert sum(cost for _, cost in sequential) < SEQUENTIAL_LIMIT + max(cost for _, cost in sequential)

    outcomes = await asker.burst(30, BURST)
    answered = [cost for status, cost in outcomes if status == 200]
    # the bound: calls beside others in flight are admitted only while every reservation fits the budget
    assert sum(answered) <= BURST_LIMIT * ESTIMATE_ERROR, f"spent {sum(answered)} on {BURST_LIMIT}"
    assert len(answered) == 2, f"{len(answered)} of 30 answered: one book, as if one process"
    await asyncio.sleep(0.2)
    lone = await asker.sequence(1, BURST, first=1)  # below the limit still: one lone call, then none
    assert statuses(lone) == [200]
    assert statuses(await asker.sequence(3, BURST, first=2)) == [429] * 3, "every process refuses it now"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process("--no-verify") as url:
        yield url


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


async def test_three_gateways_on_one_redis_spend_a_key_s_budget_once(
    emulator: str, redis: RedisServer, tmp_path: Path
) -> None:
    config = budgets_config(redis.url.replace("/0", "/3"))
    with gateways(config, tmp_path, emulator, count=3, env=shared_env(tmp_path)) as started:
        asker = Asker([g.url for g in started])
        try:
            await check_budgets(asker)
        finally:
            await asker.aclose()
    assert not any("shared rate-limit store" in g.output() for g in started), "Redis answered every call"


async def test_two_workers_without_redis_spend_a_key_s_budget_once(emulator: str, tmp_path: Path) -> None:
    env = {**shared_env(tmp_path), "BEDROCK_PROXY_METRICS_SNAPSHOT_SECONDS": "0.2"}
    with gateways(budgets_config(None), tmp_path, emulator, workers=2, env=env) as (gateway,):
        asker = Asker([gateway.url], fresh_connections=True)  # each call may land on either worker
        try:
            await check_budgets(asker)
        finally:
            await asker.aclose()
        await asyncio.sleep(0.5)  # the workers' metrics snapshots
        served = [count for count in worker_requests(tmp_path, "haiku").values() if count]
        assert len(served) == 2, "both workers answered: only a shared book explains the exact counts"
        assert "shared rate-limit store" not in gateway.output(), "the shared file answered every call"
