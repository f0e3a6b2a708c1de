"""A call's maximum cost, reserved against its key's budget before it is sent (spend/guard.py).

The maximum is what Bedrock could bill for it on the most expensive deployment it may end on (its group's,
or a fallback's the caller may use): the prompt estimate at the input price plus max_tokens (the request's,
else the deployment's default, else the model's most) at the output price, times n. The reservation is
settled when the call's record is submitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.observability.pricing import cost_for

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext

# when neither the request, the deployment nor the model table bounds the answer
DEFAULT_MAX_OUTPUT_TOKENS = 4096


def output_ceiling(deployment: Deployment, max_tokens: int | None) -> int:
    """The most output tokens one call to `deployment` may produce."""
    if max_tokens is not None:
        return max_tokens
    defaults = deployment.defaults or {}
    default = defaults.get("max_completion_tokens", defaults.get("max_tokens"))
    if isinstance(default, int) and not isinstance(default, bool) and default > 0:
        return default
    return capabilities_for(deployment.model_id).max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS


def max_call_cost(
    deployments: Iterable[Deployment], prompt_tokens: int, max_tokens: int | None, calls: int = 1
) -> float:
    """USD: the dearest deployment's cost for `calls` calls of `prompt_tokens` in and their ceiling out."""
    dearest = 0.0
    for deployment in deployments:
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=output_ceiling(deployment, max_tokens))
        costs = cost_for(
            deployment.model_id,
            deployment.region,
            usage,
            deployment.input_cost_per_token,
            deployment.output_cost_per_token,
        )
        if costs is not None:
            dearest = max(dearest, costs[0] + costs[1])
    return dearest * max(calls, 1)


async def reserve_budget(
    gateway: Gateway, ctx: RequestContext, model: str, prompt_tokens: int, max_tokens: int | None, calls: int
) -> None:
    """Check the caller's budget and reserve this call's maximum cost in one step of the shared book;
    raises BudgetExceeded when spent + reserved already reach the key's spend_limit."""
    if not gateway.guard.keeps_budget(ctx.principal):
        return
    reachable = gateway.router.reachable(model, ctx.principal.models)
    cost = max_call_cost(reachable, prompt_tokens, max_tokens, calls)
    ctx.reservation = await gateway.guard.reserve(ctx.principal, cost)
