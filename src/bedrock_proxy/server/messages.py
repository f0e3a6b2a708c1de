"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API (what Claude Code speaks)
over Bedrock Converse, through the same router, limits, records and cache as chat completions.

Errors on these routes are Anthropic-shaped (the app renders them with bedrock_proxy.anthropic.errors).
`anthropic-beta` features are Anthropic's own switches: Bedrock Converse takes what it supports from the
body (thinking, effort, cache points), so the header is logged at debug level and not applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bedrock_proxy.anthropic import sse as anthropic_sse
from bedrock_proxy.anthropic.errors import error_status
from bedrock_proxy.anthropic.messages import MessageStreamRenderer, message_from_answer, message_id
from bedrock_proxy.anthropic.messages_request import parse_messages_request
from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.cache import Lookup
from bedrock_proxy.chat.request import ChatRequest, remote_image_urls
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.router.limits import estimate_request_tokens
from bedrock_proxy.server import sse
from bedrock_proxy.server.auth import require_model_access
from bedrock_proxy.server.caching import cache_lookup, cache_store
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Receive, Scope, Send, header, read_json, send_json
from bedrock_proxy.server.images import check_image_count
from bedrock_proxy.server.model_calls import (
    Event,
    admitted,
    complete,
    converse_call,
    dropped_headers,
    open_streams,
    record_usage,
    stream_failure,
)

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway

logger = logging.getLogger("bedrock_proxy.server")

CACHE_KIND = "anthropic.messages"  # cached messages are kept apart from chat completions
COUNT_TOKENS_TIMEOUT = 10.0  # seconds for Bedrock's CountTokens before the gateway's estimate answers


async def messages(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    body = await read_json(receive, gateway.max_body_bytes, gateway.max_json_depth)
    _log_betas(scope)
    request = parse_messages_request(body)
    ctx.model = request.model
    require_model_access(ctx.principal, request.model)
    lookup = None
    if not request.stream:  # a stream is never answered from the cache (nor stored)
        lookup = await cache_lookup(gateway, scope, CACHE_KIND, request.model, request.body)
        if lookup is not None and lookup.answer is not None:
            await _serve_cached(gateway, send, ctx, request, lookup)
            return
    check_image_count(request, gateway.settings.max_images_per_request)
    urls = remote_image_urls(request)
    images = await gateway.images.fetch_all(urls) if urls else {}
    async with admitted(gateway, ctx, request):
        if request.stream:
            await _stream(gateway, send, ctx, request, images, estimate_request_tokens(request))
        else:
            await _complete(gateway, send, ctx, request, images, lookup)


def _log_betas(scope: Scope) -> None:
    betas = header(scope, b"anthropic-beta")
    if betas and logger.isEnabledFor(logging.DEBUG):
        logger.debug("anthropic-beta %s: not applied (Bedrock takes its features from the body)", betas)


async def _serve_cached(
    gateway: Gateway, send: Send, ctx: RequestContext, request: ChatRequest, lookup: Lookup
) -> None:
    assert lookup.answer is not None
    result = {**lookup.answer, "id": message_id(ctx.request_id)}
    usage = result.get("usage") or {}
    record = gateway.recorder.cached_message(ctx, request, result, usage)
    headers = ctx.trace_headers() + lookup.headers() + gateway.recorder.cost_headers(record)
    await send_json(send, 200, result, headers)
    gateway.recorder.submit(record)


async def _complete(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    lookup: Lookup | None,
) -> None:
    call, answers = await complete(gateway, ctx, request, images)
    answer = from_converse(answers[0], json_tool=call.json_tool)
    result = message_from_answer(answer, message_id(ctx.request_id), request.model)
    record_usage(ctx, answer.usage.total_tokens if answer.usage else 0)
    record = gateway.recorder.answer_success(ctx, request, call.params, answer, stream=False)
    headers = ctx.trace_headers() + gateway.recorder.cost_headers(record) + dropped_headers(call)
    if lookup is not None:
        headers += lookup.headers()
    await send_json(send, 200, result, headers)
    gateway.recorder.submit(record)
    if answer.finish_reason != "content_filter":
        await cache_store(gateway, ctx, lookup, result)


async def _stream(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    prompt_tokens: int,
) -> None:
    call, streams = await open_streams(gateway, ctx, request, images)
    _, events, first = streams[0]  # the Messages API has one answer per request
    renderer = MessageStreamRenderer(message_id(ctx.request_id), request.model, prompt_tokens)
    translator: StreamTranslator[bytes] = StreamTranslator(renderer, call.json_tool)
    await sse.start_stream(send, ctx.trace_headers() + dropped_headers(call))
    error: GatewayError | None = None
    status = 200
    try:
        await _forward(send, translator, first, ctx)
        async for event in events:
            await _forward(send, translator, (event,), ctx)
        await sse.end_stream(send, renderer.end())
    except asyncio.CancelledError:
        status = 499  # the client went away: the upstream call is cancelled with it
        _end_stream(gateway, ctx, request, call.params, translator, status, None)
        raise
    except Exception as exc:  # a Bedrock error, or anything unexpected: the client still gets an error event
        error = stream_failure(exc)
        status = error_status(error)  # the record says what the client saw: 529 for overloaded_error
        await sse.end_stream(send, anthropic_sse.encode_error(error))
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()
    _end_stream(gateway, ctx, request, call.params, translator, status, error)


async def _forward(
    send: Send, translator: StreamTranslator[bytes], events: Sequence[Event], ctx: RequestContext
) -> None:
    """The events of what is already here, as one write."""
    pieces = [piece for event_type, payload in events for piece in translator.feed(event_type, payload)]
    data = b"".join(pieces)
    if data:
        if "first_token" not in ctx.extra:
            ctx.extra["first_token"] = time.time()
        await sse.send_bytes(send, data)


def _end_stream(
    gateway: Gateway,
    ctx: RequestContext,
    request: ChatRequest,
    params: dict[str, Any],
    translator: StreamTranslator[bytes],
    status: int,
    error: GatewayError | None,
) -> None:
    record_usage(ctx, translator.usage.total_tokens if translator.usage else 0)
    gateway.recorder.submit(
        gateway.recorder.chat_stream_end(ctx, request, params, [translator], status, error)
    )


async def count_tokens(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """`{"input_tokens": N}`: Bedrock's CountTokens for Claude models, else the gateway's own estimate.
    Free on both sides, so no CallRecord; the key is still checked (this route is not a model call)."""
    ctx.principal = gateway.keys.authenticate(scope)
    body = await read_json(receive, gateway.max_body_bytes, gateway.max_json_depth)
    request = parse_messages_request(body, count_tokens=True)
    require_model_access(ctx.principal, request.model)
    deployment = gateway.router.group(request.model)[0]  # an unknown model is a 404
    tokens = None
    if capabilities_for(deployment.model_id).family == "claude":
        tokens = await _bedrock_count(gateway, request, deployment)
    if tokens is None:
        tokens = estimate_request_tokens(request)
    await send_json(send, 200, {"input_tokens": tokens}, [(b"x-request-id", ctx.request_id.encode())])


async def _bedrock_count(gateway: Gateway, request: ChatRequest, deployment: Any) -> int | None:
    try:
        check_image_count(request, gateway.settings.max_images_per_request)
        urls = remote_image_urls(request)
        images = await gateway.images.fetch_all(urls) if urls else {}
        call = converse_call(gateway, request, deployment, images)
        converse = {key: call.body[key] for key in ("messages", "system", "toolConfig") if key in call.body}
        answer = await gateway.provider.count_tokens(
            deployment, {"input": {"converse": converse}}, COUNT_TOKENS_TIMEOUT
        )
    except GatewayError as error:
        if error.status == 400 and error.upstream is None:
            raise  # the request itself is wrong (a field this model cannot take): say so
        logger.debug(
            "CountTokens failed on %s (%s): the estimate answers", deployment.model_id, error.message
        )
        return None
    count = answer.get("inputTokens")
    return count if isinstance(count, int) else None
