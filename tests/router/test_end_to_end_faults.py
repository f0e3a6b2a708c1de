"""The router in a real gateway process in front of the emulator's fault injection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.router.e2e import TITAN_LITE, chat, deployment, emulator_stats, gateway_metrics
from tests.support.processes import emulator_process, gateway_process

COOLDOWN_SECONDS = 2.0


def config(emu: str) -> str:
    failing = f"{emu}/_emu/fault=unavailable"
    return (
        "model_list:\n"
        + deployment("mixed", "mixed-bad", aws_bedrock_runtime_endpoint=failing)
        + deployment("mixed", "mixed-good")
        + deployment("primary", "primary-0", aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=internal")
        + deployment("backup", "backup-0")
        + deployment(
            "early", "early-0", aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=stream-error,after=0"
        )
        + deployment("late", "late-0", aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=stream-error,after=2")
        + deployment(
            "hanging", "hanging-0", timeout=0.6, aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=timeout"
        )
        + deployment(
            "slow-start",
            "slow-start-0",
            stream_timeout=0.6,
            aws_bedrock_runtime_endpoint=f"{emu}/_emu/ttft=5",
        )
        + deployment("small", "small-0", model=TITAN_LITE)
        + deployment("guarded", "guarded-0", aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=guardrail")
        + deployment("unguarded", "unguarded-0", aws_bedrock_runtime_endpoint=f"{emu}/_emu/fault=guardrail")
        + deployment("limited", "limited-0", rpm=5)
        + "litellm_settings:\n"
        + "  num_retries: 2\n"
        + "  fallbacks:\n"
        + "    - model: primary\n      fallback: backup\n"
        + "    - model: early\n      fallback: backup\n"
        + "    - model: late\n      fallback: backup\n"
        + "  context_window_fallbacks:\n    - model: small\n      fallback: backup\n"
        + '  content_policy_fallbacks: [{"guarded": ["backup"]}]\n'
        + "router_settings:\n"
        + "  allowed_fails: 0\n"
        + f"  cooldown_time: {COOLDOWN_SECONDS}\n"
        + "  retry_policy:\n    TimeoutErrorRetries: 0\n"
        + "general_settings:\n  master_key: sk-router-test\n"
    )


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process("--no-verify") as url:
        yield url


@pytest.fixture(scope="module")
def gateway(emulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(config(emulator), tmp_path_factory.mktemp("router"), emulator_url=emulator) as url:
        yield url


async def test_a_group_with_one_failing_deployment_serves_every_request_and_none_twice(
    gateway: str, emulator: str
) -> None:
    before = emulator_stats(emulator)
    replies = await asyncio.gather(*(chat(gateway, "mixed", f"question {i}") for i in range(40)))
    after = emulator_stats(emulator)
    assert [r.status for r in replies] == [200] * 40
    assert {r.deployment for r in replies} == {"mixed-good"}
    upstream_calls = after["requests"] - before["requests"]
    assert upstream_calls == sum(r.attempts for r in replies), "every upstream call is one reported attempt"
    failed = after["by_prefix"].get("fault=unavailable", 0) - before["by_prefix"].get("fault=unavailable", 0)
    assert upstream_calls == 40 + failed, "each request was answered exactly once"
    # concurrent requests choose before any failure is known: about half meet the bad deployment once
    assert failed < 40


async def test_a_cooled_down_deployment_returns_to_service_after_cooldown_time(
    gateway: str, emulator: str
) -> None:
    def hits() -> int:
        return emulator_stats(emulator)["by_prefix"].get("fault=unavailable", 0)

    while True:  # make sure the bad deployment was just tried, so it is cooling down now
        start = hits()
        await chat(gateway, "mixed")
        if hits() > start:
            break
    cooled_at, cooled_hits = time.monotonic(), hits()
    while time.monotonic() - cooled_at < COOLDOWN_SECONDS - 0.5:
        reply = await chat(gateway, "mixed")
        assert reply.status == 200 and reply.attempts == 1
    assert hits() == cooled_hits, "no request reaches a deployment while it cools down"
    await asyncio.sleep(max(COOLDOWN_SECONDS - (time.monotonic() - cooled_at), 0) + 0.2)
    for _ in range(60):
        reply = await chat(gateway, "mixed")
        assert reply.status == 200
        if hits() > cooled_hits:
            break
    assert hits() > cooled_hits, "after cooldown_time the deployment is tried again"


async def test_a_failing_model_falls_back_and_says_so_in_the_headers(gateway: str) -> None:
    reply = await chat(gateway, "primary")
    assert reply.status == 200 and reply.text()
    assert reply.deployment == "backup-0" and reply.fallback
    assert reply.attempts == 4, "three tries of primary (num_retries 2), then the fallback"


async def test_a_stream_that_fails_before_its_first_byte_falls_back_transparently(gateway: str) -> None:
    reply = await chat(gateway, "early", "Écris une courte histoire", stream=True)
    assert reply.status == 200 and reply.fallback and reply.deployment == "backup-0"
    assert reply.text().startswith("Emulated answer")
    assert reply.events[-1] == "[DONE]"
    assert not [e for e in reply.events if isinstance(e, dict) and "error" in e]


async def test_a_stream_that_fails_after_its_first_bytes_ends_with_an_sse_error(
    gateway: str, emulator: str
) -> None:
    before = emulator_stats(emulator)["requests"]
    reply = await chat(gateway, "late", "Écris une courte histoire", stream=True)
    assert reply.status == 200 and not reply.fallback
    assert reply.text(), "the deltas sent before the failure reached the client"
    errors = [e for e in reply.events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and errors[0]["error"]["message"]
    assert emulator_stats(emulator)["requests"] - before == 1, "nothing is retried once bytes were sent"


async def test_a_request_timeout_fires_on_time_with_a_408(gateway: str) -> None:
    reply = await chat(gateway, "hanging")
    assert reply.status == 408
    assert reply.body["error"]["type"] == "timeout_error"
    assert 0.5 <= reply.seconds < 3.0


async def test_stream_timeout_bounds_the_time_to_first_token(gateway: str) -> None:
    reply = await chat(gateway, "slow-start", stream=True)
    assert reply.status == 408
    assert 0.5 <= reply.seconds < 3.0


async def test_a_context_window_error_falls_back_to_a_larger_model(gateway: str) -> None:
    long_prompt = "mot " * 6000  # about 6,000 tokens: over Titan Text Lite's 4K window
    reply = await chat(gateway, "small", long_prompt)
    assert reply.status == 200 and reply.deployment == "backup-0" and reply.fallback
    assert reply.attempts == 2, "a context-window error is not retried"


async def test_a_guardrail_intervention_falls_back_to_content_policy_fallbacks(gateway: str) -> None:
    reply = await chat(gateway, "guarded")
    assert reply.status == 200 and reply.fallback and reply.deployment == "backup-0"
    assert reply.body["choices"][0]["finish_reason"] == "stop"
    unguarded = await chat(gateway, "unguarded")
    assert unguarded.status == 200 and not unguarded.fallback
    assert unguarded.body["choices"][0]["finish_reason"] == "content_filter"


async def test_a_deployment_rpm_returns_429_at_the_configured_rate_and_not_before(gateway: str) -> None:
    replies = [await chat(gateway, "limited") for _ in range(8)]
    assert [r.status for r in replies] == [200] * 5 + [429] * 3
    refused = replies[-1]
    assert refused.body["error"]["type"] == "rate_limit_error"
    assert "rpm" in refused.body["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_retries_fallbacks_and_cooldowns_show_in_the_prometheus_metrics(gateway: str) -> None:
    await chat(gateway, "primary")
    await chat(gateway, "mixed")
    body = gateway_metrics(gateway)
    assert 'bedrock_proxy_fallbacks_total{from_group="primary",to_group="backup"}' in body
    assert 'bedrock_proxy_retries_total{deployment="primary-0",error_type="InternalServerException"' in body
    assert 'bedrock_proxy_deployment_state{deployment="mixed-good",model_group="mixed"} 0.0' in body
    assert 'bedrock_proxy_deployment_cooldowns_total{deployment="mixed-bad",model_group="mixed"}' in body
