"""POST /v1/chat/completions: OpenAI chat in, Bedrock Converse out, and back, streamed or not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from bedrock_proxy.bedrock.embeddings import require_chat_model
from bedrock_proxy.bedrock.streaming import StreamTranslator, converse_events
from bedrock_proxy.bedrock.translate import ConverseCall, from_converse, to_converse
from bedrock_proxy.cache import Lookup, completion_from_stream, stream_chunks
from bedrock_proxy.chat.request import ChatRequest, image_count, remote_image_urls
from bedrock_proxy.chat.usage import total_usage
from bedrock_proxy.errors import ErrorCode, GatewayError, timeout_error
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
from bedrock_proxy.router.limits import estimate_chat_tokens
from bedrock_proxy.router.policy import CONTENT_POLICY, CONTEXT_WINDOW
from bedrock_proxy.router.router import CallTrace
from bedrock_proxy.server import sse
from bedrock_proxy.server.auth import require_model_access
from bedrock_proxy.server.caching import cache_lookup, cache_store
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Receive, Scope, Send, read_json, send_json

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway

Event = tuple[str, dict[str, Any]]  # one decoded ConverseStream event: (event type, payload)
Events = AsyncGenerator[Event, None]
# one opened upstream stream: (unused, its events, the events already read ahead)
Opened = tuple[None, Events, list[Event]]

logger = logging.getLogger("bedrock_proxy.server")


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
    ctx.trace = CallTrace(request.model)
    router = gateway.router
    prompt = estimate_chat_tokens(request.messages) if router.counts_tokens else 0
    estimate = prompt * (request.n or 1)  # n calls each send the prompt
    if router.pre_call_checks:
        # what must fit in one call's context window: the prompt and the answer it may grow to
        ctx.trace.context_tokens = prompt + (request.max_tokens or 0)
    with router.admit(ctx.trace, estimate):
        if request.stream:
            await _stream(gateway, send, ctx, request, images, lookup)
        else:
            await _complete(gateway, send, ctx, request, images, lookup)


def check_image_count(request: ChatRequest, limit: int) -> None:
    """Before any image is fetched: a request with more images than the limit costs nothing to refuse."""
    count = image_count(request)
    if count > limit:
        raise GatewayError(
            400,
            f"The request holds {count} images; the gateway takes at most {limit} per request"
            " (general_settings.max_images_per_request). Send fewer images.",
            param="messages",
            code=ErrorCode.TOO_MANY_IMAGES,
        )


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


# Converse stop reasons that make an answer worth a fallback, when one of that kind is configured
_FALLBACK_STOP_REASONS = {
    "guardrail_intervened": CONTENT_POLICY,
    "content_filtered": CONTENT_POLICY,
    "model_context_window_exceeded": CONTEXT_WINDOW,
}


def _classify(result: tuple[ConverseCall, list[dict[str, Any]]]) -> str | None:
    for answer in result[1]:
        kind = _FALLBACK_STOP_REASONS.get(answer.get("stopReason"))
        if kind is not None:
            return kind
    return None


def _record_usage(ctx: RequestContext, total_tokens: int) -> None:
    ticket = ctx.trace.ticket if ctx.trace is not None else None
    if ticket is not None:
        ticket.record_usage(total_tokens)


def _converse_call(
    gateway: Gateway, request: ChatRequest, deployment: Deployment, images: dict[str, Any]
) -> ConverseCall:
    require_chat_model(deployment.model_name, deployment.model_id)
    call = to_converse(
        request,
        model_id=deployment.model_id,
        defaults=deployment.defaults,
        drop_params=gateway.drop_params(deployment),
        images=images,
    )
    if call.dropped:
        logger.debug(
            "drop_params: %s not sent to %s (%s)",
            ", ".join(call.dropped),
            deployment.model_id,
            deployment.deployment_id,
        )
    return call


def dropped_headers(call: ConverseCall) -> list[tuple[bytes, bytes]]:
    """x-bedrock-proxy-dropped-params: what drop_params removed or changed, so nothing is dropped unseen."""
    return [(b"x-bedrock-proxy-dropped-params", ",".join(call.dropped).encode())] if call.dropped else []


async def _complete(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    lookup: Lookup | None = None,
) -> None:
    n = request.n or 1

    async def attempt(deployment: Deployment, timeout: float) -> tuple[ConverseCall, list[dict[str, Any]]]:
        call = _converse_call(gateway, request, deployment, images)
        if n == 1:
            return call, [await gateway.provider.converse(deployment, call.body, timeout)]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(gateway.provider.converse(deployment, call.body, timeout))
                    for _ in range(n)
                ]
        except* GatewayError as failures:
            raise failures.exceptions[0] from None
        return call, [task.result() for task in tasks]

    assert ctx.trace is not None
    call, answers = await gateway.router.run(request.model, attempt, ctx.trace, classify=_classify)
    created = int(time.time())
    answer_id = response_id(ctx.request_id)
    choices = [from_converse(answer, json_tool=call.json_tool) for answer in answers]
    result = completion_from_answers(answer_id, created, request.model, choices)
    _record_usage(ctx, (result.get("usage") or {}).get("total_tokens", 0))
    record = gateway.recorder.chat_success(ctx, request, call.params, result, stream=False)
    headers = ctx.trace_headers() + gateway.recorder.cost_headers(record) + dropped_headers(call)
    if lookup is not None:
        headers += lookup.headers()
    await send_json(send, 200, result, headers)
    gateway.recorder.submit(record)
    await cache_store(gateway, ctx, lookup, result)


async def _open_stream(
    gateway: Gateway, ctx: RequestContext, request: ChatRequest, images: dict[str, Any]
) -> tuple[ConverseCall, list[Opened]]:
    """Open the upstream stream(s) and wait for a first event, so a failure before any byte reached the
    client can still be retried or fall back."""
    n = request.n or 1
    trace = ctx.trace
    assert trace is not None

    async def open_one(deployment: Deployment, call: ConverseCall, first_timeout: float) -> Opened:
        total_timeout = trace.time_left()
        if call.buffered_stream:
            # the model cannot stream tool use: one Converse call, replayed as stream events
            answer = await gateway.provider.converse(deployment, call.body, total_timeout)
            events: Events = _events_from(converse_events(answer))
        else:
            stream = await gateway.provider.converse_stream(
                deployment, call.body, first_timeout, total_timeout
            )
            events = stream.__aiter__()
        try:
            async with asyncio.timeout(first_timeout):
                first = [await anext(events)]
                if first[0][0] == "messageStart":
                    # look one event further: an error right after messageStart can still fall back
                    following = await anext(events, None)
                    if following is not None:
                        first.append(following)
        except StopAsyncIteration:
            await events.aclose()
            raise GatewayError(
                502,
                "Bedrock ended the stream without sending a message. Retry the request.",
                type="api_error",
                code=ErrorCode.BEDROCK_EMPTY_STREAM,
                retryable=True,
            ) from None
        except TimeoutError:
            await events.aclose()
            raise timeout_error(first_timeout, "Bedrock's first token") from None
        except BaseException:
            await events.aclose()
            raise
        return None, events, first

    async def attempt(deployment: Deployment, first_timeout: float) -> tuple[ConverseCall, list[Opened]]:
        call = _converse_call(gateway, request, deployment, images)
        if n == 1:
            return call, [await open_one(deployment, call, first_timeout)]
        opened: list[Opened] = []
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(open_one(deployment, call, first_timeout)) for _ in range(n)]
        except* GatewayError as failures:
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is None:
                    await task.result()[1].aclose()
            raise failures.exceptions[0] from None
        opened = [task.result() for task in tasks]
        return call, opened

    # a model that cannot stream tool use answers in one piece: it gets the whole-answer timeout
    first = gateway.router.group(request.model)[0]
    buffered = _converse_call(gateway, request, first, images).buffered_stream
    return await gateway.router.run(request.model, attempt, trace, stream=not buffered)


async def _stream(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ChatRequest,
    images: dict[str, Any],
    lookup: Lookup | None = None,
) -> None:
    call, streams = await _open_stream(gateway, ctx, request, images)
    created = int(time.time())
    answer_id = response_id(ctx.request_id)
    include_usage = request.include_usage
    several = len(streams) > 1
    # with n > 1 each choice's usage is summed into one final chunk instead
    translators = [
        StreamTranslator(
            ChunkRenderer(answer_id, request.model, created, include_usage and not several, index),
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
    translators: list[StreamTranslator],
    status: int,
    error: GatewayError | None,
) -> None:
    """The stream's one record, with what was forwarded so far when it did not end well."""
    _record_usage(ctx, total_usage(t.usage for t in translators).total_tokens)
    gateway.recorder.submit(
        gateway.recorder.chat_stream_end(ctx, request, params, translators, status, error)
    )


async def _pump(
    send: Send,
    streams: list[Opened],
    translators: list[StreamTranslator],
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
    translator: StreamTranslator,
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
    translators: list[StreamTranslator],
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
    answer_id: str, model: str, created: int, translators: list[StreamTranslator]
) -> Callable[[], dict[str, Any]]:
    """The usage of every choice summed, built once all streams ended."""

    def build() -> dict[str, Any]:
        total = usage_to_openai(total_usage(translator.usage for translator in translators))
        return chunk(answer_id, created, model, [], total)

    return build


def stream_failure(exc: Exception) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    logger.exception("stream failed unexpectedly")
    return GatewayError(
        502,
        f"The Bedrock stream failed unexpectedly ({type(exc).__name__}). Retry the request.",
        type="api_error",
        code=ErrorCode.BEDROCK_STREAM_ERROR,
    )


async def _events_from(events: list[Event]) -> Events:
    for event in events:
        yield event
