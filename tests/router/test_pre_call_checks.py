"""router_settings.enable_pre_call_checks: a request too long for a deployment's context window never
reaches it; it goes to a deployment or a context_window_fallbacks group that can hold it, or is refused."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_proxy.router.router import CallTrace
from tests.router.support import HAIKU, Upstream, router

MISTRAL_7B = "mistral.mistral-7b-instruct-v0:2"  # a 32,000-token window


def entry(name: str, ident: str, model: str = HAIKU, max_input_tokens: int | None = None) -> str:
    lines = [
        f"  - model_name: {name}",
        "    litellm_params:",
        f"      model: bedrock/{model}",
        f"      id: {ident}",
    ]
    if max_input_tokens is not None:
        lines += ["    model_info:", f"      max_input_tokens: {max_input_tokens}"]
    return "\n".join(lines) + "\n"


def config(*entries: str, checks: bool = True, extra: str = "") -> str:
    settings = "router_settings:\n" + (f"  enable_pre_call_checks: {str(checks).lower()}\n") + extra
    return "model_list:\n" + "".join(entries) + settings


async def call(r: Any, upstream: Upstream, model: str, needed: int) -> tuple[Any, CallTrace]:
    trace = CallTrace(model)
    trace.estimated_tokens = needed
    try:
        return await r.run(model, upstream, trace, allowed=None), trace
    except Exception as error:
        return error, trace


SMALL_AND_BIG = (entry("chat", "small", max_input_tokens=1000), entry("chat", "big"))


async def test_an_oversize_request_skips_the_small_window_deployment_for_a_big_one_of_the_same_group() -> (
    None
):
    r = router(config(*SMALL_AND_BIG))
    upstream = Upstream()
    for _ in range(20):  # simple-shuffle would pick "small" about half of the time
        _, trace = await call(r, upstream, "chat", 5000)
        assert trace.deployment.deployment_id == "big" and not trace.fallback_used
    assert upstream.calls["small"] == 0


async def test_a_request_that_fits_still_goes_to_every_deployment() -> None:
    r = router(config(*SMALL_AND_BIG))
    upstream = Upstream()
    for _ in range(40):
        await call(r, upstream, "chat", 500)
    assert upstream.calls["small"] > 0 and upstream.calls["big"] > 0


async def test_the_known_window_of_the_model_is_used_when_model_info_sets_none() -> None:
    r = router(config(entry("chat", "mistral", MISTRAL_7B), entry("chat", "claude")))
    upstream = Upstream()
    for _ in range(10):
        _, trace = await call(r, upstream, "chat", 40_000)
        assert trace.deployment.deployment_id == "claude"
    assert upstream.calls["mistral"] == 0


async def test_max_tokens_counts_towards_the_window() -> None:
    r = router(config(*SMALL_AND_BIG))
    upstream = Upstream()
    for _ in range(10):
        trace = CallTrace("chat")
        trace.estimated_tokens = 600
        trace.context_tokens = 600 + 800  # the prompt fits, prompt + max_tokens does not
        await r.run("chat", upstream, trace, allowed=None)
    assert upstream.calls["small"] == 0


async def test_a_group_too_small_falls_back_to_a_context_window_fallbacks_group_that_fits() -> None:
    r = router(
        config(
            entry("short", "short-0", max_input_tokens=1000),
            entry("long", "long-0"),
            extra='  context_window_fallbacks: [{"short": ["long"]}]\n',
        )
    )
    upstream = Upstream()
    _, trace = await call(r, upstream, "short", 5000)
    assert trace.deployment.deployment_id == "long-0" and trace.fallback_used
    assert upstream.calls == {"long-0": 1}
    assert [a.is_fallback for a in trace.attempts] == [True]


@pytest.mark.parametrize(
    "extra",
    [
        "",
        '  context_window_fallbacks: [{"short": ["shorter"]}]\n',
    ],
    ids=["without fallbacks", "with fallbacks too small as well"],
)
async def test_a_request_no_deployment_can_hold_is_a_400_without_any_upstream_call(extra: str) -> None:
    r = router(
        config(
            entry("short", "short-0", max_input_tokens=1000),
            entry("short", "short-1", max_input_tokens=2000),
            entry("shorter", "shorter-0", max_input_tokens=500),
            extra=extra,
        )
    )
    upstream = Upstream()
    error, trace = await call(r, upstream, "short", 5000)
    assert error.status == 400 and error.code == "context_length_exceeded"
    assert "5000 tokens" in error.message and "2000 tokens" in error.message
    assert not upstream.calls and not trace.attempts


async def test_pre_call_checks_are_off_by_default() -> None:
    r = router("model_list:\n" + entry("chat", "small", max_input_tokens=1000))
    upstream = Upstream()
    await call(r, upstream, "chat", 5000)
    assert upstream.calls == {"small": 1}
    assert not r.counts_tokens, "with no tpm limit nor check, prompts are not even estimated"


async def test_pre_call_checks_make_request_handlers_estimate_the_prompt() -> None:
    assert router(config(entry("chat", "small", max_input_tokens=1000))).counts_tokens
