"""POST /v1/embeddings: a string or a list, sent as concurrent InvokeModel calls, in input order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy.bedrock.embeddings import embedding_calls, embeddings_from_invoke, require_embedding_model
from bedrock_proxy.openai.embeddings import embeddings_response, parse_embedding_request
from bedrock_proxy.router.limits import estimate_text_tokens
from bedrock_proxy.router.router import CallTrace
from bedrock_proxy.server.auth import require_model_access
from bedrock_proxy.server.budget import reserve_budget
from bedrock_proxy.server.caching import cache_lookup, cache_store
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Receive, Scope, Send, read_json, send_json

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway


async def embeddings(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    body = await read_json(receive, gateway.max_body_bytes, gateway.max_json_depth)
    request = parse_embedding_request(body)
    ctx.model = request.model
    require_model_access(ctx.principal, request.model)
    lookup = await cache_lookup(gateway, scope, "embedding", request.model, request.body)
    if lookup is not None and lookup.answer is not None:  # a hit: the stored answer, zero cost
        record = gateway.recorder.cache_hit(ctx, "embedding", request, lookup.answer)
        headers = ctx.trace_headers() + lookup.headers() + gateway.recorder.cost_headers(record)
        await send_json(send, 200, lookup.answer, headers)
        gateway.recorder.submit(record)
        return
    ctx.trace = CallTrace(request.model)

    async def attempt(deployment: Deployment, timeout: float) -> tuple[list[dict[str, Any]], Deployment]:
        require_embedding_model(deployment.model_name, deployment.model_id)
        calls = embedding_calls(request, deployment.model_id)
        return await gateway.provider.embed(deployment, calls, timeout), deployment

    router = gateway.router
    prompt = estimate_text_tokens(request.inputs)
    ctx.prompt_estimate = prompt  # what a call cut short is charged (no usage arrived)
    await reserve_budget(gateway, ctx, request.model, prompt, 0, 1)  # embeddings have no output tokens
    estimate = prompt if router.counts_tokens else 0
    async with router.admit(ctx.trace, estimate) as ticket:
        results, deployment = await router.run(
            request.model, attempt, ctx.trace, allowed=ctx.principal.models
        )
        answer = embeddings_from_invoke(request, results, deployment.model_id)
        result = embeddings_response(answer, request.model, request.encoding_format)
        ticket.record_usage((result.get("usage") or {}).get("total_tokens", 0))
        record = gateway.recorder.embedding_success(ctx, request, result)
        headers = ctx.trace_headers() + gateway.recorder.cost_headers(record)
        await send_json(send, 200, result, headers + (lookup.headers() if lookup is not None else []))
    gateway.recorder.submit(record)
    await cache_store(gateway, ctx, lookup, result)
