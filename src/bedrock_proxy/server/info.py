"""Read-only routes: model lists, model info without secrets, health and metrics."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bedrock_proxy.anthropic.messages import model_list
from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.observability.pricing import model_info_costs
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.deep_health import DeepHealth
from bedrock_proxy.server.health import probe
from bedrock_proxy.server.http import Receive, Scope, Send, header, send_json

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway

CREATED = 1_700_000_000  # a fixed `created` for model objects: Bedrock does not say when a model appeared
CREATED_AT = "2023-11-14T22:13:20Z"  # the same instant, as Anthropic's model objects write it


async def root(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    """/ answers 200 (HEAD without a body): clients such as Claude Code check the base URL with it."""
    if scope["method"] == "HEAD":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send_json(send, 200, {"status": "ok", "service": "bedrock-proxy"})


async def models(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    """The model names (a key's when a key is sent), in Anthropic's list shape when the client says it
    speaks Anthropic's API (the anthropic-version header every Anthropic SDK sends), else OpenAI's."""
    principal = gateway.keys.authenticate_optional(scope)
    if header(scope, b"anthropic-version") is not None:
        names = [n for n in gateway.router.model_names() if principal is None or principal.may_use(n)]
        await send_json(send, 200, model_list(names, CREATED_AT))
        return
    data = [
        {"id": name, "object": "model", "created": CREATED, "owned_by": "bedrock"}
        for name in gateway.router.model_names()
        if principal is None or principal.may_use(name)
    ]
    await send_json(send, 200, {"object": "list", "data": data})


async def model_info(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    data = []
    for deployment in gateway.config.deployments:
        capabilities = capabilities_for(deployment.model_id)
        info: dict[str, Any] = {
            "id": deployment.deployment_id,
            "mode": deployment.mode,
            "bedrock_model_id": deployment.model_id,
            "region": deployment.region,
            "max_input_tokens": capabilities.context_window,
            "max_output_tokens": capabilities.max_output_tokens,
            "supports_function_calling": capabilities.tools,
            "supports_vision": capabilities.images,
            "supports_system_messages": capabilities.system_prompt,
            **model_info_costs(deployment.model_id, deployment.region),
        }
        for name in ("input_cost_per_token", "output_cost_per_token"):  # the deployment's own contract
            override = getattr(deployment, name)
            if override is not None:
                info[name] = override
        info.update(deployment.model_info or {})
        data.append(
            {
                "model_name": deployment.model_name,
                "litellm_params": deployment.public_params(),
                "model_info": info,
            }
        )
    await send_json(send, 200, {"data": data})


async def health(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    status = 503 if gateway.draining else 200
    await send_json(send, status, {"status": "draining" if gateway.draining else "healthy"})


async def liveliness(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    await send_json(send, 200, {"status": "alive"})


async def readiness(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    ready = gateway.started and not gateway.draining
    await send_json(
        send,
        200 if ready else 503,
        {"status": "ready" if ready else "not ready", "models": len(gateway.router.model_names())},
    )


async def deep_health(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """Really call every deployment (a 1-token chat or a one-word embedding): it costs money and reaches
    every model, so it needs the master key, and one round of probes answers every caller for a while
    (BEDROCK_PROXY_HEALTH_MODELS_CACHE_SECONDS); the `Age` header says how old the answer is."""
    caller = gateway.keys.authenticate(scope)
    if not gateway.keys.open and not caller.is_master:
        raise GatewayError(
            403,
            "GET /health/models calls every model on Bedrock and needs the master key. Use GET /health "
            "(or /health/readiness) to check the gateway, or GET /v1/models to see the models of this key.",
            type="permission_error",
            code=ErrorCode.MASTER_KEY_REQUIRED,
        )
    (status, body), age = await gateway.deep_health.get(lambda: _probe_all(gateway))
    headers = [(b"age", str(int(age)).encode()), (b"cache-control", b"no-store")]
    await send_json(send, status, body, headers)


async def _probe_all(gateway: Gateway) -> DeepHealth:
    async def check(deployment: Deployment) -> tuple[Deployment, str | None]:
        return deployment, await probe(gateway.provider, deployment)

    results = await asyncio.gather(*(check(d) for d in gateway.config.deployments))
    healthy, unhealthy = [], []
    for deployment, problem in results:
        entry = {
            "model_name": deployment.model_name,
            "deployment_id": deployment.deployment_id,
            "model": deployment.model_id,
            "region": deployment.region,
        }
        if problem is None:
            healthy.append(entry)
        else:
            unhealthy.append({**entry, "error": problem})
    return 200 if not unhealthy else 503, {
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
        "healthy_count": len(healthy),
        "unhealthy_count": len(unhealthy),
    }


async def metrics(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    """Prometheus' text format; with litellm_settings.require_auth_for_metrics_endpoint, only for a valid key
    (any configured key, as LiteLLM), answered 401 in OpenAI's shape otherwise."""
    if gateway.settings.require_auth_for_metrics_endpoint:
        gateway.keys.authenticate(scope)
    body, content_type = gateway.observability.metrics.render()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type.encode())]}
    )
    await send({"type": "http.response.body", "body": body})
