"""POST /v1/chat/completions: OpenAI chat in, Bedrock Converse out, and back, streamed or not."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.cache import Lookup, completion_from_stream, stream_chunks
from bedrock_proxy.chat.request import ChatRequest, remote_image_urls
from bedrock_proxy.chat.usage import total_usage
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai import sse as openai_sse
from bedrock_proxy.openai.chat_request import parse_chat_request
from bedrock_proxy.openai.completions import (
    ChunkRenderer,
    chunk,
    completion_from_answers,
    reissued,
    response_id,
)
from bedrock_proxy.openai.usage import usage_to_openai
from bedrock_proxy.server import sse
from bedrock_proxy.server.auth import require_model_access
from bedrock_proxy.server.caching import cache_lookup, cache_store
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Receive, Scope, Send, read_json, send_json
from bedrock_proxy.server.images import check_image_count
from bedrock_proxy.server.model_calls import (
    Event,
    Events,
    Opened,
    admitted,
    complete,
    dropped_headers,
    open_streams,
    record_usage,
    stream_failure,
)

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway


async def chat_completions(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    body = await read_json(receive, gateway.max_body_bytes, gateway.max_json_depth)
    request = parse_chat_request(body, gateway.max_json_depth)
    ctx.model = request.model
    require_model_access(ctx.principal, request.model)
    lookup = await cache_lookup(gateway, scope, "chat", request.model, request.body)
    if lookup is not None and lookup.answer is not None:
        await _serve_cached(gateway, send, ctx, request, lookup)
        return
    check_image_count(request, gateway.settings.max_images_per_request)
    urls = remote_image_urls(request)
    images = await gateway.images.fetch_all(urls) if urls else {}
    async with admitted(gateway, ctx, request):
        if request.stream:
            await _stream(gateway, send, ctx, request, images, lookup)
        else:
            await _complete(gateway, send, ctx, request, images, lookup)


async def _serve_cached(
    gateway: Gateway, send: Send, ctx: RequestContext, request: ChatRequest, lookup: Lookup
) -> None:
    """A hit: the stored completion under this request's id, as JSON or replayed as a stream."""
    assert lookup.answer is not None
    answer = reissued(lookup.answer, response_id(ctx.request_id))
    record = gateway.recorder.cache_hit(ctx, "chat", request, answer, stream=request.stream)
    headers = ctx.trace_headers() + lookup.headers() + gateway.recorder.cost_headers(record)
    if request.stream:
        await sse.start_stream(send, headers)
        ctx.extra["first_token"] = time.time()
        await sse.send_bytes(send, openai_sse.encode_events(stream_chunks(answer, request.include_usage)))
        await sse.end_stream(send, openai_sse.DONE)
    else:
        await send_json(send, 200, answer, headers)
    gateway.recorder.submit(record)


async def _complete(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    lookup: Lookup | None = None,
) -> None:
    call, answers = await complete(gateway, ctx, request, images)
    created = int(time.time())
    answer_id = response_id(ctx.request_id)
    choices = [from_converse(answer, json_tool=call.json_tool) for answer in answers]
    result = completion_from_answers(answer_id, created, request.model, choices)
    record_usage(ctx, (result.get("usage") or {}).get("total_tokens", 0))
    record = gateway.recorder.chat_success(ctx, request, call.params, result, stream=False)
    headers = ctx.trace_headers() + gateway.recorder.cost_headers(record) + dropped_headers(call)
    if lookup is not None:
        headers += lookup.headers()
    await send_json(send, 200, result, headers)
    gateway.recorder.submit(record)
    await cache_store(gateway, ctx, lookup, result)


async def _stream(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    lookup: Lookup | None = None,
) -> None:
    call, streams = await open_streams(gateway, ctx, request, images)
    created = int(time.time())
    answer_id = response_id(ctx.request_id)
    include_usage = request.include_usage
    several = len(streams) > 1
    # with n > 1 each choice's usage is summed into one final chunk instead
    translators = [
        StreamTranslator(
            ChunkRenderer(
                answer_id,
                request.model,
                created,
                include_usage and not several,
                index,
                _announced_tier(call.params.get("service_tier")),
            ),
            call.json_tool,
        )
        for index in range(len(streams))
    ]
    await sse.start_stream(
        send,
        ctx.trace_headers() + (lookup.headers() if lookup is not None else []) + dropped_headers(call),
    )
    final_usage = (
        _usage_chunk(answer_id, request.model, created, translators) if several and include_usage else None
    )
    error: GatewayError | None = None
    status = 200
    try:
        error = await _pump(send, streams, translators, ctx, final_usage)
    except asyncio.CancelledError:
        # the client went away (the app cancels the request): the upstream call is cancelled with it
        status = 499
        _end_stream(gateway, ctx, request, call.params, translators, status, None)
        raise
    finally:
        for _, events, _ in streams:
            with contextlib.suppress(Exception):
                await events.aclose()
    if error is not None:
        status = error.status
    _end_stream(gateway, ctx, request, call.params, translators, status, error)
    if status == 200 and lookup is not None:  # the assembled answer of a stream that ended well
        await cache_store(
            gateway, ctx, lookup, completion_from_stream(answer_id, request.model, created, translators)
        )


def _end_stream(
    gateway: Gateway,
    ctx: RequestContext,
    request: ChatRequest,
    params: dict[str, Any],
    translators: list[StreamTranslator[dict[str, Any]]],
    status: int,
    error: GatewayError | None,
) -> None:
    """The stream's one record, with what was forwarded so far when it did not end well."""
    record_usage(ctx, total_usage(t.usage for t in translators).total_tokens)
    gateway.recorder.submit(
        gateway.recorder.chat_stream_end(ctx, request, params, translators, status, error)
    )


async def _pump(
    send: Send,
    streams: list[Opened],
    translators: list[StreamTranslator[dict[str, Any]]],
    ctx: RequestContext,
    final_usage: Callable[[], dict[str, Any]] | None = None,
) -> GatewayError | None:
    """Forward every upstream event as soon as it is decoded; return the error that ended the stream."""
    try:
        if len(streams) == 1:
            _, events, first = streams[0]
            translator = translators[0]
            await _forward(send, translator, first, ctx)  # the events read ahead, in one write
            async for event in events:
                await _forward(send, translator, (event,), ctx)
        else:
            await _merge(send, streams, translators, ctx)
    except Exception as exc:  # a Bedrock error, or anything unexpected: the client still gets an error event
        error = stream_failure(exc)
        await sse.end_stream(send, openai_sse.encode_error(error))
        return error
    if final_usage is not None:
        await sse.send_bytes(send, openai_sse.encode_event(final_usage()))
    await sse.end_stream(send, openai_sse.DONE)
    return None


async def _forward(
    send: Send,
    translator: StreamTranslator[dict[str, Any]],
    events: Sequence[tuple[str, dict[str, Any]]],
    ctx: RequestContext,
) -> None:
    """Send the chunks of events that are already here as one write: no waiting, fewer syscalls."""
    chunks = [chunk for event_type, payload in events for chunk in translator.feed(event_type, payload)]
    if chunks:
        if "first_token" not in ctx.extra:
            ctx.extra["first_token"] = time.time()
        await sse.send_bytes(send, openai_sse.encode_events(chunks))


async def _merge(
    send: Send,
    streams: list[Opened],
    translators: list[StreamTranslator[dict[str, Any]]],
    ctx: RequestContext,
) -> None:
    """n > 1: several upstream streams interleaved into one, each chunk tagged with its choice index."""
    queue: asyncio.Queue[tuple[int, tuple[str, dict[str, Any]] | GatewayError | None]] = asyncio.Queue()

    async def read(index: int, events: Events, first: list[Event]) -> None:
        try:
            for event in first:
                await queue.put((index, event))
            async for event in events:
                await queue.put((index, event))
        except Exception as exc:  # every failure reaches the merger, or it would wait forever
            await queue.put((index, stream_failure(exc)))
        finally:
            await queue.put((index, None))

    readers = [asyncio.create_task(read(i, events, first)) for i, (_, events, first) in enumerate(streams)]
    try:
        open_streams = len(readers)
        while open_streams:
            index, item = await queue.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, GatewayError):
                raise item
            else:
                await _forward(send, translators[index], (item,), ctx)
    finally:
        for reader in readers:
            reader.cancel()


def _usage_chunk(
    answer_id: str, model: str, created: int, translators: list[StreamTranslator[dict[str, Any]]]
) -> Callable[[], dict[str, Any]]:
    """The usage of every choice summed, built once all streams ended."""

    def build() -> dict[str, Any]:
        total = usage_to_openai(total_usage(translator.usage for translator in translators))
        return chunk(answer_id, created, model, [], total)

    return build


def _announced_tier(tier: Any) -> str | None:
    """The tier every chunk may carry before Bedrock reports one: the one the call was sent with, except
    `reserved`, which Bedrock overflows to standard when the reservation is used up (the last chunk says)."""
    return tier if isinstance(tier, str) and tier != "reserved" else None
