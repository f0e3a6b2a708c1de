"""A key's `models` hold on every route the router takes: a fallback of any kind (plain, context window,
content policy, default) and an alias reach only groups the caller may use; else the original outcome."""

from __future__ import annotations

from typing import Any

import pytest

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
)

GROUPS = deployments("cheap", 1) + deployments("pricey", 1) + deployments("spare", 1)


def filtered(index: int = 0) -> dict:
    return {"stopReason": "guardrail_intervened", "text": "Sorry."}


def classify(result: dict) -> str | None:
    return "content_policy" if result["stopReason"] == "guardrail_intervened" else None


def config(settings: str) -> str:
    return "model_list:\n" + GROUPS + "router_settings:\n" + settings


# (settings, the cheap group's behaviour, the error code when the fallback is out of scope)
ROUTES: list[tuple[str, str, Any, str | None]] = [
    ("fallbacks", '  fallbacks: [{"cheap": ["pricey"]}]\n', fails(throttled), "bedrock_throttled"),
    (
        "context_window_fallbacks",
        '  context_window_fallbacks: [{"cheap": ["pricey"]}]\n',
        fails(context_window),
        "context_length_exceeded",
    ),
    ("default_fallbacks", "  default_fallbacks: [pricey]\n", fails(throttled), "bedrock_throttled"),
    ("content_policy_fallbacks", '  content_policy_fallbacks: [{"cheap": ["pricey"]}]\n', filtered, None),
]
IDS = [route[0] for route in ROUTES]


@pytest.mark.parametrize(("kind", "settings", "behaviour", "code"), ROUTES, ids=IDS)
async def test_a_fallback_outside_the_callers_models_is_never_called(
    kind: str, settings: str, behaviour: Any, code: str | None
) -> None:
    r = router(config("  num_retries: 0\n" + settings))
    upstream = Upstream(cheap_0=behaviour)
    allowed = frozenset({"cheap", "spare"})
    if code is None:  # an answer that would fall back: the caller gets the first answer
        result, trace = await run(r, upstream, "cheap", allowed=allowed, classify=classify)
        assert result == filtered() and not trace.fallback_used
    else:
        error, trace = await run_error(r, upstream, "cheap", allowed=allowed)
        assert error.code == code and "Fallbacks tried" not in error.message
        assert not trace.fallback_used
    assert upstream.calls["pricey-0"] == 0, f"{kind} took a scoped key to a model it may not use"


@pytest.mark.parametrize(("kind", "settings", "behaviour", "code"), ROUTES, ids=IDS)
async def test_the_same_fallback_is_taken_for_a_caller_who_may_use_it(
    kind: str, settings: str, behaviour: Any, code: str | None
) -> None:
    r = router(config("  num_retries: 0\n" + settings))
    for allowed in (None, frozenset({"cheap", "pricey"})):
        upstream = Upstream(cheap_0=behaviour)
        result, trace = await run(r, upstream, "cheap", allowed=allowed, classify=classify)
        assert result == ok() and trace.fallback_used and upstream.calls["pricey-0"] == 1


async def test_an_allowed_fallback_is_still_taken_after_a_forbidden_one() -> None:
    r = router(config('  num_retries: 0\n  fallbacks: [{"cheap": ["pricey", "spare"]}]\n'))
    upstream = Upstream(cheap_0=fails(throttled))
    _, trace = await run(r, upstream, "cheap", allowed=frozenset({"cheap", "spare"}))
    assert trace.deployment.deployment_id == "spare-0"
    assert upstream.calls["pricey-0"] == 0


async def test_an_alias_reaches_only_a_group_the_caller_may_use() -> None:
    r = router(config("  model_group_alias: {fast: pricey, small: cheap}\n"))
    # the key names the alias: its group is in scope, through the alias or a fallback
    _, trace = await run(r, Upstream(), "fast", allowed=frozenset({"fast"}))
    assert trace.deployment.deployment_id == "pricey-0"
    # an alias of a group outside the key's models is refused before any call
    upstream = Upstream()
    error, _ = await run_error(r, upstream, "fast", allowed=frozenset({"cheap"}))
    assert (error.status, error.code) == (403, "model_not_allowed") and not upstream.calls


async def test_a_fallback_named_through_an_alias_the_key_holds_is_allowed() -> None:
    r = router(
        config('  num_retries: 0\n  model_group_alias: {fast: pricey}\n  fallbacks: [{"cheap": ["fast"]}]\n')
    )
    upstream = Upstream(cheap_0=fails(throttled))
    _, trace = await run(r, upstream, "cheap", allowed=frozenset({"cheap", "fast"}))
    assert trace.deployment.deployment_id == "pricey-0"


async def test_the_deployments_a_request_may_end_on_are_its_groups_and_its_allowed_fallbacks() -> None:
    r = router(
        config(
            '  fallbacks: [{"cheap": ["pricey"]}]\n  context_window_fallbacks: [{"cheap": ["spare"]}]\n'
            "  model_group_alias: {small: cheap}\n"
        )
    )
    ids = lambda deployments: [d.deployment_id for d in deployments]  # noqa: E731
    assert ids(r.reachable("cheap", None)) == ["cheap-0", "pricey-0", "spare-0"]
    assert ids(r.reachable("small", frozenset({"small", "spare"}))) == ["cheap-0", "spare-0"]
    assert ids(r.reachable("pricey", None)) == ["pricey-0"]


WILDCARDS = (
    deployments("claude-3-haiku", 1)
    + '  - model_name: "claude-*"\n    litellm_params:\n'
    + "      model: bedrock/anthropic.claude-3-sonnet-20240229-v1:0\n      id: claude-wild-0\n"
    + deployments("titan", 1)
)


async def test_a_wildcard_name_the_key_may_use_is_served_and_its_fallbacks_stay_in_scope() -> None:
    r = router(
        "model_list:\n" + WILDCARDS + "router_settings:\n  num_retries: 0\n"
        '  fallbacks: [{"claude-*": ["titan"]}, {"claude-3-haiku": ["claude-*"]}]\n'
    )
    # a key limited to a wildcard reaches the names it matches (the group is the pattern itself)
    _, trace = await run(r, Upstream(), "claude-sonnet-4-5", allowed=frozenset({"claude-*"}))
    assert trace.deployment.deployment_id == "claude-wild-0"
    # ...and a fallback into a group its wildcard covers, but not one outside it
    upstream = Upstream(claude_3_haiku_0=fails(throttled))
    _, trace = await run(r, upstream, "claude-3-haiku", allowed=frozenset({"claude-*"}))
    assert trace.deployment.deployment_id == "claude-wild-0" and trace.fallback_used
    upstream = Upstream(claude_wild_0=fails(throttled))
    error, _ = await run_error(r, upstream, "claude-opus-4", allowed=frozenset({"claude-*"}))
    assert error.code == "bedrock_throttled" and upstream.calls["titan-0"] == 0
    # a key that names one exact model gets no other name through the wildcard group
    error, _ = await run_error(r, Upstream(), "claude-opus-4", allowed=frozenset({"claude-3-haiku"}))
    assert (error.status, error.code) == (403, "model_not_allowed")
