"""Fallbacks to other model groups: which error sends where, in the seed's shape and LiteLLM's."""

from __future__ import annotations

import pytest

from bedrock_proxy.observability.metrics import GatewayMetrics
from tests.router.support import (
    Upstream,
    context_window,
    deployments,
    fails,
    ok,
    router,
    run,
    run_error,
    throttled,
    unavailable,
    validation,
)

GROUPS = deployments("big", 1) + deployments("small", 1) + deployments("other", 1)
SEED_SHAPE = "litellm_settings:\n  {kind}:\n    - model: big\n      fallback: small\n"
LITELLM_SHAPE = 'router_settings:\n  {kind}: [{{"big": ["small"]}}]\n'
SHAPES = pytest.mark.parametrize("shape", [SEED_SHAPE, LITELLM_SHAPE], ids=["seed shape", "litellm shape"])


def with_fallbacks(shape: str, kind: str = "fallbacks", extra: str = "") -> str:
    return "model_list:\n" + GROUPS + shape.format(kind=kind) + extra


def filtered(index: int = 0) -> dict:
    return {"stopReason": "guardrail_intervened", "text": "Sorry, the model cannot answer this question."}


def classify(result: dict) -> str | None:
    return {"guardrail_intervened": "content_policy", "model_context_window_exceeded": "context_window"}.get(
        result["stopReason"]
    )


@SHAPES
async def test_a_failing_group_falls_back_to_its_fallback(shape: str) -> None:
    r = router(with_fallbacks(shape, extra="  num_retries: 1\n" if shape == SEED_SHAPE else ""))
    upstream = Upstream(big_0=fails(unavailable))
    _, trace = await run(r, upstream, "big")
    assert trace.deployment.deployment_id == "small-0"
    assert trace.fallback_used
    assert [(a.deployment_id, a.is_fallback) for a in trace.attempts][-1] == ("small-0", True)
    assert all(not a.is_fallback for a in trace.attempts if a.deployment_id == "big-0")


@SHAPES
async def test_a_context_window_error_uses_context_window_fallbacks(shape: str) -> None:
    r = router(with_fallbacks(shape, "context_window_fallbacks"))
    upstream = Upstream(big_0=fails(context_window))
    _, trace = await run(r, upstream, "big")
    assert trace.deployment.deployment_id == "small-0" and trace.fallback_used
    assert upstream.calls["big-0"] == 1, "a context-window error is never retried"


async def test_a_context_window_stop_reason_uses_context_window_fallbacks() -> None:
    r = router(with_fallbacks(LITELLM_SHAPE, "context_window_fallbacks"))
    upstream = Upstream(big_0=lambda i: {"stopReason": "model_context_window_exceeded"})
    result, trace = await run(r, upstream, "big", classify=classify)
    assert result == ok() and trace.fallback_used


@SHAPES
async def test_a_guardrail_intervention_uses_content_policy_fallbacks(shape: str) -> None:
    r = router(with_fallbacks(shape, "content_policy_fallbacks"))
    upstream = Upstream(big_0=filtered)
    result, trace = await run(r, upstream, "big", classify=classify)
    assert result == ok()
    assert trace.deployment.deployment_id == "small-0" and trace.fallback_used


async def test_a_guardrail_intervention_without_content_policy_fallbacks_is_the_answer() -> None:
    r = router(with_fallbacks(LITELLM_SHAPE, "fallbacks"))
    upstream = Upstream(big_0=filtered)
    result, trace = await run(r, upstream, "big", classify=classify)
    assert result == filtered() and not trace.fallback_used
    assert upstream.calls == {"big-0": 1}


async def test_when_the_content_policy_fallback_fails_the_first_answer_is_returned() -> None:
    r = router(with_fallbacks(LITELLM_SHAPE, "content_policy_fallbacks"))
    upstream = Upstream(big_0=filtered, small_0=fails(validation))
    result, trace = await run(r, upstream, "big", classify=classify)
    assert result == filtered()
    assert trace.deployment.deployment_id == "big-0" and not trace.fallback_used


async def test_a_validation_error_falls_back_nowhere() -> None:
    r = router(with_fallbacks(LITELLM_SHAPE))
    upstream = Upstream(big_0=fails(validation))
    error, trace = await run_error(r, upstream, "big")
    assert error.status == 400 and upstream.calls == {"big-0": 1} and not trace.fallback_used


async def test_a_context_window_error_without_context_window_fallbacks_is_returned() -> None:
    r = router(with_fallbacks(LITELLM_SHAPE))
    error, _ = await run_error(r, Upstream(big_0=fails(context_window)), "big")
    assert error.code == "context_length_exceeded"


async def test_default_fallbacks_apply_to_groups_without_their_own() -> None:
    r = router("model_list:\n" + GROUPS + "router_settings:\n  default_fallbacks: [other]\n")
    _, trace = await run(r, Upstream(big_0=fails(unavailable)), "big")
    assert trace.deployment.deployment_id == "other-0"


async def test_fallbacks_are_tried_in_order_up_to_max_fallbacks() -> None:
    text = "model_list:\n" + GROUPS + 'router_settings:\n  fallbacks: [{"big": ["small", "other"]}]\n'
    upstream = Upstream(big_0=fails(unavailable), small_0=fails(unavailable))
    _, trace = await run(router(text), upstream, "big")
    assert trace.deployment.deployment_id == "other-0"
    limited = router(text + "  max_fallbacks: 1\n")
    upstream = Upstream(big_0=fails(unavailable), small_0=fails(unavailable))
    error, trace = await run_error(limited, upstream, "big")
    assert upstream.calls["other-0"] == 0
    assert error.code == "bedrock_unavailable"
    assert "Fallbacks tried without success: small." in error.message
    assert trace.fallback_used


async def test_each_fallback_is_counted_in_metrics() -> None:
    metrics = GatewayMetrics()
    r = router(with_fallbacks(LITELLM_SHAPE), metrics=metrics)
    await run(r, Upstream(big_0=fails(throttled)), "big")
    body = metrics.render()[0].decode()
    assert 'bedrock_proxy_fallbacks_total{from_group="big",to_group="small"} 1.0' in body


async def test_a_group_at_its_limits_falls_back_too() -> None:
    text = (
        "model_list:\n"
        + deployments("big", 1, rpm=1)
        + deployments("small", 1)
        + 'router_settings:\n  fallbacks: [{"big": ["small"]}]\n'
    )
    r = router(text)
    upstream = Upstream()
    _, first = await run(r, upstream, "big")
    _, second = await run(r, upstream, "big")
    assert first.deployment.deployment_id == "big-0"
    assert second.deployment.deployment_id == "small-0" and second.fallback_used


async def test_a_filtered_answer_from_a_fallback_beats_an_error() -> None:
    text = (
        "model_list:\n"
        + GROUPS
        + 'router_settings:\n  fallbacks: [{"big": ["small"]}]\n'
        + '  content_policy_fallbacks: [{"big": ["other"]}]\n'
    )
    upstream = Upstream(big_0=fails(unavailable), small_0=filtered)
    result, trace = await run(router(text), upstream, "big", classify=classify)
    assert result == filtered()
    assert trace.deployment.deployment_id == "small-0" and trace.fallback_used
