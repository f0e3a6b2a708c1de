"""Limits and cooldowns hold across gateway processes, as users scale out: three `serve` processes on
different ports sharing one real redis-server, and one `serve --num-workers 2` without Redis. The OpenAI SDK
talks to them; requests go round-robin over the processes, so without shared state each process would
admit its own full limit.

Sequential tests count exactly; concurrent ones assert the bound (a limit admitted atomically in one store
admits exactly its limit even under concurrency; token limits, counted from answers, may overshoot by what
the requests in flight use).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.cache.redis_server import RedisServer, redis_server
from tests.router.e2e import deployment, emulator_stats
from tests.support.processes import clean_env, emulator_process, free_port, stop, wait_until_up

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the clients fixture's loop

MASTER = "sk-router-test"
KEY_RPM, KEY_TPM, KEY_BURST, KEY_TPM_BURST = "sk-rpm-six", "sk-tpm-small", "sk-burst-ten", "sk-tpm-burst"
KEY_LEASED = "sk-rpm-leased"
LEASED_RPM, LEASED_BURST_RPM = 120, 150  # room enough for window leases (router/leases.py) to be granted
COOLDOWN_FAULT = "fault=unavailable"
WORKERS_FAULT = "fault=internal"


def limits_config(emu: str, redis_url: str | None, fault: str = COOLDOWN_FAULT) -> str:
    """Every per-key and per-deployment limit, and a group whose failing deployment cools down."""
    redis = f"  redis_url: {redis_url}\n" if redis_url else ""
    return (
        "model_list:\n"
        + deployment("free", "free-0")
        + deployment("drpm", "drpm-0", rpm=5)
        + deployment("dburst", "dburst-0", rpm=10)
        + deployment("dlease", "dlease-0", rpm=LEASED_RPM)
        + deployment("dleaseburst", "dleaseburst-0", rpm=LEASED_BURST_RPM)
        + deployment("dtpm", "dtpm-0", tpm=40)
        + deployment(
            "dpar", "dpar-0", max_parallel_requests=2, aws_bedrock_runtime_endpoint=f"{emu}/_emu/latency=2"
        )
        + deployment("mixed", "mixed-bad", aws_bedrock_runtime_endpoint=f"{emu}/_emu/{fault}")
        + deployment("mixed", "mixed-good")
        + "router_settings:\n  allowed_fails: 1\n  cooldown_time: 120\n  num_retries: 2\n"
        + redis
        + "general_settings:\n"
        + f"  master_key: {MASTER}\n"
        + "  api_keys:\n"
        + f"    - {{key: {KEY_RPM}, alias: six, rpm: 6}}\n"
        + f"    - {{key: {KEY_TPM}, alias: small, tpm: 40}}\n"
        + f"    - {{key: {KEY_BURST}, alias: burst, rpm: 10}}\n"
        + f"    - {{key: {KEY_TPM_BURST}, alias: tburst, tpm: 60}}\n"
        + f"    - {{key: {KEY_LEASED}, alias: leased, rpm: {LEASED_RPM}}}\n"
    )


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gateways(
    config_text: str,
    tmp_path: Path,
    emu: str,
    count: int = 1,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[list[Gateway]]:
    """`count` gateway processes of one config, started together, each on its own port."""
    config_path = tmp_path / f"config-{free_port()}.yaml"
    config_path.write_text(config_text)
    started: list[Gateway] = []
    with ExitStack() as stack:
        for _ in range(count):
            port = free_port()
            log = tmp_path / f"gateway-{port}.log"
            extra = {
                "AWS_BEDROCK_RUNTIME_ENDPOINT": emu,
                "DATABASE_URL": f"sqlite:///{tmp_path}/spend-{port}.db",
                "TMPDIR": str(tmp_path),
                "BEDROCK_PROXY_METRICS_SNAPSHOT_SECONDS": "0.2",
                # exact counts need every call to reach Redis: on a shared, loaded test machine a call can
                # take longer than the 100 ms default (the timeout itself is tested in test_state_failover)
                "BEDROCK_PROXY_REDIS_STATE_TIMEOUT_SECONDS": "1",
                **(env or {}),
            }
            args = ["serve", "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port)]
            args += ["--num-workers", str(workers)] if workers > 1 else []
            handle = stack.enter_context(log.open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-m", "bedrock_proxy", *args],
                env=clean_env(extra),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            stack.callback(stop, process)
            started.append(Gateway(f"http://127.0.0.1:{port}", process, log))
        for gateway in started:
            wait_until_up(f"{gateway.url}/health/readiness", gateway.process, timeout=60)
        yield started


@dataclass
class Outcome:
    status: int
    code: str | None = None
    tokens: int = 0


class Clients:
    """One OpenAI client per gateway and key; `ask(i)` goes to gateway i modulo their number."""

    def __init__(self, urls: list[str], *, fresh_connections: bool = False) -> None:
        self.urls = urls
        self.fresh = fresh_connections
        self._clients: dict[tuple[str, str], openai.AsyncOpenAI] = {}

    def client(self, url: str, key: str) -> openai.AsyncOpenAI:
        if (url, key) not in self._clients:
            # with fresh connections every request may land on another worker of a multi-worker gateway
            limits = httpx.Limits(max_keepalive_connections=0) if self.fresh else httpx.Limits()
            self._clients[(url, key)] = openai.AsyncOpenAI(
                base_url=f"{url}/v1",
                api_key=key,
                max_retries=0,
                timeout=30,
                http_client=httpx.AsyncClient(limits=limits, timeout=30),
            )
        return self._clients[(url, key)]

    async def ask(self, index: int, model: str, key: str = MASTER, prompt: str = "Bonjour") -> Outcome:
        client = self.client(self.urls[index % len(self.urls)], key)
        try:
            answer = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}]
            )
        except openai.APIStatusError as error:
            return Outcome(error.status_code, getattr(error, "code", None))
        assert answer.usage is not None
        return Outcome(200, None, answer.usage.total_tokens)

    async def sequence(self, count: int, model: str, key: str = MASTER, gap: float = 0.0) -> list[Outcome]:
        outcomes = []
        for index in range(count):
            outcomes.append(await self.ask(index, model, key))
            if gap:
                await asyncio.sleep(gap)
        return outcomes

    async def burst(self, count: int, model: str, key: str = MASTER) -> list[Outcome]:
        return list(await asyncio.gather(*(self.ask(index, model, key) for index in range(count))))

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


def statuses(outcomes: list[Outcome]) -> list[int]:
    return [outcome.status for outcome in outcomes]


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process("--no-verify") as url:
        yield url


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def three(emulator: str, redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Three gateway processes sharing one Redis."""
    config = limits_config(emulator, redis.url.replace("/0", "/1"))
    with gateways(config, tmp_path_factory.mktemp("three"), emulator, count=3) as started:
        yield [g.url for g in started]


@pytest.fixture
async def clients(three: list[str]) -> object:
    together = Clients(three)
    yield together
    await together.aclose()


# ------------------------------------------------------------------------------ per key
async def test_a_key_s_rpm_admits_exactly_rpm_requests_across_three_gateways(clients: Clients) -> None:
    outcomes = await clients.sequence(9, "free", KEY_RPM)
    assert statuses(outcomes) == [200] * 6 + [429] * 3, "each process alone would admit 6"
    assert {o.code for o in outcomes[6:]} == {"key_rpm_limit_exceeded"}


async def test_a_key_s_tpm_refuses_once_its_answers_used_the_minute_s_tokens_on_any_gateway(
    clients: Clients,
) -> None:
    # sequential: each answer's tokens are counted (just after it went out) before the next request
    outcomes = await clients.sequence(8, "free", KEY_TPM, gap=0.05)
    used, expected = 0, []
    for outcome in outcomes:
        expected.append(200 if used < 40 else 429)
        used += outcome.tokens
    assert statuses(outcomes) == expected and 429 in expected
    assert {o.code for o in outcomes if o.status == 429} == {"key_tpm_limit_exceeded"}


async def test_concurrent_requests_on_three_gateways_never_pass_a_key_s_rpm(clients: Clients) -> None:
    outcomes = await clients.burst(30, "free", KEY_BURST)
    admitted = statuses(outcomes).count(200)
    assert admitted <= 10, "bound: the limit (each admission is one atomic step in Redis)"
    assert admitted == 10 and statuses(outcomes).count(429) == 20


async def test_concurrent_requests_overshoot_a_key_s_tpm_by_at_most_what_was_in_flight(
    clients: Clients,
) -> None:
    first = await clients.burst(12, "free", KEY_TPM_BURST)
    served = [o for o in first if o.status == 200]
    per_request = max(o.tokens for o in served)
    # tokens are known when answers end: all 12 may be admitted while the minute counts fewer than 60
    assert sum(o.tokens for o in served) <= 60 + len(first) * per_request
    await asyncio.sleep(0.2)  # the burst's tokens are counted
    later = await clients.sequence(3, "free", KEY_TPM_BURST)
    assert statuses(later) == [429] * 3, "once counted, every gateway refuses the key"


# ------------------------------------------------------------------------------ limits with leases
# Busy processes admit from window leases without asking Redis; the counts must stay exact all the same.
def script_calls(redis: RedisServer) -> int:
    stats = redis.command("INFO", "commandstats").decode()
    return sum(int(n) for n in re.findall(r"cmdstat_eval(?:sha)?:calls=(\d+)", stats))


async def test_a_deployment_rpm_with_room_for_leases_admits_exactly_its_limit_across_three_gateways(
    clients: Clients, redis: RedisServer
) -> None:
    before = script_calls(redis)
    outcomes = await clients.sequence(LEASED_RPM + 5, "dlease")
    assert statuses(outcomes) == [200] * LEASED_RPM + [429] * 5
    assert {o.code for o in outcomes[LEASED_RPM:]} == {"deployment_limit_exceeded"}
    assert script_calls(redis) - before < len(outcomes) * 0.75, "most admissions came from leases"


async def test_a_key_rpm_with_room_for_leases_admits_exactly_its_limit_across_three_gateways(
    clients: Clients,
) -> None:
    outcomes = await clients.sequence(LEASED_RPM + 4, "free", KEY_LEASED)
    assert statuses(outcomes) == [200] * LEASED_RPM + [429] * 4
    assert {o.code for o in outcomes[LEASED_RPM:]} == {"key_rpm_limit_exceeded"}


async def test_a_burst_on_three_gateways_holding_leases_admits_exactly_the_deployment_rpm(
    clients: Clients,
) -> None:
    await clients.sequence(9, "dleaseburst")  # each gateway is busy on it: it holds a lease
    outcomes = await clients.burst(200, "dleaseburst")
    assert statuses(outcomes).count(200) == LEASED_BURST_RPM - 9, "bound: the limit, exactly"


# ------------------------------------------------------------------------------ per deployment
async def test_a_deployment_s_rpm_holds_across_three_gateways(clients: Clients) -> None:
    outcomes = await clients.sequence(8, "drpm")
    assert statuses(outcomes) == [200] * 5 + [429] * 3
    assert {o.code for o in outcomes[5:]} == {"deployment_limit_exceeded"}


async def test_concurrent_requests_never_pass_a_deployment_s_rpm(clients: Clients) -> None:
    outcomes = await clients.burst(24, "dburst")
    assert statuses(outcomes).count(200) == 10, "bound: the limit, exactly"


async def test_a_deployment_s_tpm_counts_real_usage_across_three_gateways(clients: Clients) -> None:
    outcomes = await clients.sequence(8, "dtpm", gap=0.05)
    estimate = 2  # "Bonjour": 7 characters, about 4 a token
    used, expected = 0, []
    for outcome in outcomes:
        admitted = used + estimate <= 40
        expected.append(200 if admitted else 429)
        used += outcome.tokens
    assert statuses(outcomes) == expected and 429 in expected


async def test_a_deployment_s_max_parallel_requests_holds_across_three_gateways(clients: Clients) -> None:
    outcomes = await clients.burst(6, "dpar")  # each answer takes 2 s
    assert sorted(statuses(outcomes)) == [200, 200, 429, 429, 429, 429]
    again = await clients.burst(2, "dpar")
    assert statuses(again) == [200, 200], "the slots were given back"


# ------------------------------------------------------------------------------ cooldowns
async def test_a_failing_deployment_cools_down_for_every_gateway_after_allowed_fails(
    clients: Clients, emulator: str
) -> None:
    def bad_hits() -> int:
        return int(emulator_stats(emulator)["by_prefix"].get(COOLDOWN_FAULT, 0))

    before = bad_hits()
    outcomes = await clients.sequence(30, "mixed")
    assert statuses(outcomes) == [200] * 30, "every failure was retried on the good deployment"
    assert bad_hits() - before == 2, "allowed_fails 1: the second failure, on any gateway, cools it for all"


# ------------------------------------------------------------------------------ global limits
async def test_the_global_rpm_and_max_parallel_requests_hold_across_two_gateways(
    emulator: str, redis: RedisServer, tmp_path: Path
) -> None:
    config = (
        "model_list:\n"
        + deployment("fast", "fast-0")
        + deployment("slow", "slow-0", aws_bedrock_runtime_endpoint=f"{emulator}/_emu/latency=2")
        + "litellm_settings:\n  rpm: 8\n"
        + f"router_settings:\n  redis_url: {redis.url.replace('/0', '/2')}\n"
        + f"general_settings:\n  master_key: {MASTER}\n  max_parallel_requests: 2\n"
    )
    with gateways(config, tmp_path, emulator, count=2) as started:
        clients = Clients([g.url for g in started])
        parallel = await clients.burst(6, "slow")
        assert sorted(statuses(parallel)) == [200, 200, 429, 429, 429, 429]
        assert {o.code for o in parallel if o.status == 429} == {"max_parallel_requests_exceeded"}
        sequential = await clients.sequence(8, "fast")  # 2 of the minute's 8 went to the slow ones
        assert statuses(sequential) == [200] * 6 + [429] * 2
        assert {o.code for o in sequential[6:]} == {"rpm_limit_exceeded"}
        await clients.aclose()


# ------------------------------------------------------------------------------ many workers
def worker_requests(tmp_path: Path, model: str) -> dict[int, float]:
    """Per worker pid, the requests for `model` its last metrics snapshot counts."""
    found: dict[int, float] = {}
    for path in tmp_path.glob("bedrock-proxy-metrics-*/worker-*.json"):
        try:
            snapshot = orjson.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            continue
        series = snapshot["metrics"].get("bedrock_proxy_requests", [])
        found[int(snapshot["pid"])] = sum(value for labels, value in series if labels[0] == model)
    return found


def state_files(tmp_path: Path) -> list[Path]:
    return list(tmp_path.glob("bedrock-proxy-state-*/limits.db"))


def metrics_text(url: str) -> str:
    return httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {MASTER}"}).text


async def test_two_workers_without_redis_share_every_limit_on_one_host(emulator: str, tmp_path: Path) -> None:
    config = limits_config(emulator, None, fault=WORKERS_FAULT)
    with gateways(config, tmp_path, emulator, workers=2) as (gateway,):
        assert "shared by this host's worker processes" in gateway.output()
        assert state_files(tmp_path), "the workers' shared SQLite file"
        clients = Clients([gateway.url], fresh_connections=True)
        outcomes = await clients.sequence(9, "free", KEY_RPM)
        assert statuses(outcomes) == [200] * 6 + [429] * 3
        outcomes = await clients.sequence(8, "drpm")
        # keep asking (fresh connections) until both workers have answered for drpm: the one that did not
        # admit the 5 must still refuse, which only a shared count explains
        for _ in range(60):
            await asyncio.sleep(0.25)
            if len([count for count in worker_requests(tmp_path, "drpm").values() if count]) >= 2:
                break
            outcomes += await clients.sequence(2, "drpm")
        assert len([c for c in worker_requests(tmp_path, "drpm").values() if c]) == 2, "both workers answered"
        assert statuses(outcomes).count(200) == 5 and set(statuses(outcomes)) == {200, 429}
        concurrent = await clients.burst(24, "dburst")
        assert statuses(concurrent).count(200) == 10, "bound: the limit, exactly"
        parallel = await clients.burst(6, "dpar")
        assert sorted(statuses(parallel)) == [200, 200, 429, 429, 429, 429]
        before = int(emulator_stats(emulator)["by_prefix"].get(WORKERS_FAULT, 0))
        assert statuses(await clients.sequence(30, "mixed")) == [200] * 30
        assert int(emulator_stats(emulator)["by_prefix"].get(WORKERS_FAULT, 0)) - before == 2
        await clients.aclose()


# ------------------------------------------------------------------------------ Redis failures
async def test_redis_killed_mid_run_gives_no_5xx_and_shared_limits_resume_when_it_returns(
    emulator: str, tmp_path: Path
) -> None:
    with redis_server() as server:
        config = limits_config(emulator, server.url)
        with gateways(config, tmp_path, emulator, count=2) as started:
            clients = Clients([g.url for g in started])
            assert statuses(await clients.sequence(4, "free")) == [200] * 4
            server.kill()
            started_at = time.monotonic()
            during = await clients.sequence(20, "free", KEY_BURST)  # key rpm 10, per process while down
            assert all(o.status < 500 for o in during), statuses(during)
            assert time.monotonic() - started_at < 10, "no request waited on the dead Redis"
            assert statuses(during).count(200) == 20, "fail open: each of 2 processes admits its own 10"
            metrics = [metrics_text(g.url) for g in started]
            assert all('bedrock_proxy_shared_state_down{store="redis"} 1.0' in text for text in metrics)
            server.restart()  # empty, as after a crash
            await asyncio.sleep(1.5)  # each process tries Redis again a second after its last failure
            outcomes = await clients.sequence(9, "free", KEY_RPM)
            assert statuses(outcomes) == [200] * 6 + [429] * 3, "shared again, without a restart"
            assert server.entries() > 0
            await clients.aclose()
        for gateway in started:
            log = gateway.output()
            assert log.count("shared rate-limit store") == 2, (
                "one warning when it went, one when it came back"
            )


async def test_fail_closed_refuses_with_a_503_in_openai_shape_while_redis_is_down(
    emulator: str, tmp_path: Path
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    config = limits_config(emulator, dead).replace(
        "router_settings:\n", "router_settings:\n  redis_fail_mode: closed\n"
    )
    with gateways(config, tmp_path, emulator) as (gateway,):
        assert "redis_fail_mode closed" in gateway.output()
        clients = Clients([gateway.url])
        started_at = time.monotonic()
        refused = await clients.ask(0, "free", KEY_RPM)
        assert (refused.status, refused.code) == (503, "shared_state_unavailable")
        assert time.monotonic() - started_at < 2
        unlimited = await clients.ask(0, "free")  # the master key, one deployment, no limit to check
        assert unlimited.status == 200
        await clients.aclose()
