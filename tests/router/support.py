"""A router over a config written in YAML, and a scripted upstream standing in for Bedrock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from bedrock_proxy.config.loader import load_config_text
from bedrock_proxy.errors import GatewayError, from_bedrock, timeout_error
from bedrock_proxy.router.router import CallTrace, Router

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"


def config(text: str) -> Any:
    loaded = load_config_text(text, environ={})
    assert not loaded.errors, [str(issue) for issue in loaded.errors]
    return loaded


def deployments(name: str, count: int, model: str = HAIKU, **params: Any) -> str:
    """`count` model_list entries of one group, ids name-0, name-1, ...; params per entry as lists."""
    lines = []
    for index in range(count):
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: bedrock/{model}",
            f"      id: {name}-{index}",
        ]
        for key, values in params.items():
            value = values[index] if isinstance(values, list) else values
            if value is not None:
                lines.append(f"      {key}: {value}")
    return "\n".join(lines) + "\n"


def router(text: str, **kwargs: Any) -> Router:
    kwargs.setdefault("backoff_base", 0.001)
    return Router(config(text), **kwargs)


def throttled() -> GatewayError:
    return from_bedrock("ThrottlingException", "Too many requests, please wait before trying again.", 429)


def unavailable() -> GatewayError:
    return from_bedrock("ServiceUnavailableException", "Service unavailable", 503)


def validation() -> GatewayError:
    return from_bedrock("ValidationException", "temperature must be in [0, 1]", 400)


def context_window() -> GatewayError:
    return from_bedrock("ValidationException", "Input is too long for requested model.", 400)


def access_denied() -> GatewayError:
    return from_bedrock("AccessDeniedException", "You don't have access to the model", 403)


Behaviour = Callable[[int], Any]  # the n-th call (from 0) to a deployment -> an answer, or raises


class Upstream:
    """Per deployment id, what each call does; counts every call so tests can prove nothing was lost."""

    def __init__(self, **behaviours: Behaviour) -> None:
        self.behaviours = {name.replace("_", "-"): b for name, b in behaviours.items()}
        self.calls: Counter[str] = Counter()
        self.timeouts: list[float] = []
        self.in_flight = 0

    async def __call__(self, deployment: Any, timeout: float) -> Any:
        ident = deployment.deployment_id
        index = self.calls[ident]
        self.calls[ident] += 1
        self.timeouts.append(timeout)
        behaviour = self.behaviours.get(ident) or self.behaviours.get("default") or ok
        self.in_flight += 1
        try:
            result = behaviour(index)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        finally:
            self.in_flight -= 1


def ok(index: int = 0) -> dict:
    return {"stopReason": "end_turn", "text": "hello"}


def fails(make: Callable[[], GatewayError]) -> Behaviour:
    def behaviour(index: int) -> Any:
        raise make()

    return behaviour


def fails_first(count: int, make: Callable[[], GatewayError]) -> Behaviour:
    def behaviour(index: int) -> Any:
        if index < count:
            raise make()
        return ok()

    return behaviour


def sleeps(seconds: float) -> Behaviour:
    async def behaviour(index: int) -> Any:
        await asyncio.sleep(seconds)
        return ok()

    return behaviour


def hangs(index: int = 0) -> Any:
    async def forever(timeout_holder: list[float] | None = None) -> Any:
        await asyncio.sleep(3600)

    return forever()


def times_out_after(timeout: float) -> GatewayError:
    return timeout_error(timeout)


async def run(r: Router, upstream: Upstream, model: str, **kwargs: Any) -> tuple[Any, CallTrace]:
    trace = CallTrace(model)
    kwargs.setdefault("allowed", None)  # every model, unless the test scopes the caller
    result = await r.run(model, upstream, trace, **kwargs)
    return result, trace


async def run_error(
    r: Router, upstream: Upstream, model: str, **kwargs: Any
) -> tuple[GatewayError, CallTrace]:
    trace = CallTrace(model)
    kwargs.setdefault("allowed", None)  # every model, unless the test scopes the caller
    try:
        await r.run(model, upstream, trace, **kwargs)
    except GatewayError as error:
        return error, trace
    raise AssertionError("the request should have failed")
