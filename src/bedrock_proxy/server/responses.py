"""The OpenAI Responses API: POST /v1/responses (streamed or not), GET and DELETE /v1/responses/{id}.

The same way through as chat completions (server/model_calls.py: admission, router, retries, fallbacks,
one CallRecord) with the Responses API's parse and render (openai/responses_request.py, openai/responses.py).
`store` (true unless the client says false) keeps the response and its conversation in the gateway's
database under the caller's key, for previous_response_id, GET and DELETE; another key gets a 404.
The response cache works as for chat: a hit (same model and body, kind "responses") is the cached response
under a new id, whole or replayed as a stream, at zero cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.bedrock.translate import from_converse
from bedrock_proxy.cache import Lookup
from bedrock_proxy.chat.request import remote_image_urls
from bedrock_proxy.errors import ErrorCode, GatewayError, invalid_request
from bedrock_proxy.openai.responses import (
    ResponseStreamRenderer,
    answer_from_response,
    encode_events,
    input_items,
    item_list,
    new_response_id,
    replay,
    response_from_answer,
)
from bedrock_proxy.openai.responses_request import (
    CLIENT_API,
    ResponsesRequest,
    parse_responses_request,
    previous_response_id,
)
from bedrock_proxy.server import sse
from bedrock_proxy.server.auth import require_model_access
from bedrock_proxy.server.caching import cache_lookup, cache_store
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Receive, Scope, Send, read_json, send_json
from bedrock_proxy.server.images import check_image_count
from bedrock_proxy.server.model_calls import (
    Event,
    admitted,
    complete,
    dropped_headers,
    open_streams,
    record_usage,
    stream_failure,
)
from bedrock_proxy.spend.response_store import StoredResponse

if TYPE_CHECKING:
    from bedrock_proxy.keys import KeyIdentity
    from bedrock_proxy.server.app import Gateway

logger = logging.getLogger("bedrock_proxy.server")
ResponseEvents = list[dict[str, Any]]  # what the stream renderer gives for one delta

PATH_PREFIX = "/responses/"  # after /v1 or on its own, as every route of the gateway
INPUT_ITEMS = "/input_items"


def _not_found(response_id: str, param: str | None = None) -> GatewayError:
    """Unknown, expired, deleted, or another key's: the same answer, so ids cannot be probed."""
    return GatewayError(
        404,
        f"Response with id '{response_id}' not found. Stored responses are kept for the key that created "
        "them, until they expire.",
        param=param,
        code=ErrorCode.NOT_FOUND,
    )


async def create_response(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    ctx.extra["client_api"] = CLIENT_API
    body = await read_json(receive, gateway.max_body_bytes, gateway.max_json_depth)
    history: list[dict[str, Any]] = []
    previous = previous_response_id(body)
    if previous is not None:
        stored = await _load(gateway, previous, ctx.principal)
        if stored is None:
            raise _not_found(previous, "previous_response_id")
        history = stored.items
    request = parse_responses_request(body, history)
    chat = request.chat
    ctx.model = chat.model
    require_model_access(ctx.principal, chat.model)
    lookup = await cache_lookup(gateway, scope, "responses", chat.model, chat.body)
    if lookup is not None and lookup.answer is not None:
        await _serve_cached(gateway, send, ctx, request, lookup)
        return
    check_image_count(chat, gateway.settings.max_images_per_request)
    urls = remote_image_urls(chat)
    images = await gateway.images.fetch_all(urls) if urls else {}
    async with admitted(gateway, ctx, chat):
        if chat.stream:
            await _stream(gateway, send, ctx, request, images, lookup)
        else:
            await _complete(gateway, send, ctx, request, images, lookup)


async def _serve_cached(
    gateway: Gateway, send: Send, ctx: RequestContext, request: ResponsesRequest, lookup: Lookup
) -> None:
    """A hit: the cached answer rendered again under a new id (and stored again, for this key)."""
    assert lookup.answer is not None
    answer = answer_from_response(lookup.answer)
    record = gateway.recorder.cache_hit(ctx, "chat", request.chat, answer, stream=request.stream)
    headers = ctx.trace_headers() + lookup.headers() + gateway.recorder.cost_headers(record)
    if request.stream:
        renderer = ResponseStreamRenderer(new_response_id(), request.echo)
        events = replay(renderer, answer)
        await _store(gateway, ctx, request, renderer.final_response())
        await sse.start_stream(send, headers)
        ctx.extra["first_token"] = time.time()
        await sse.end_stream(send, encode_events(events))
    else:
        response = response_from_answer(new_response_id(), int(time.time()), request.echo, answer)
        await _store(gateway, ctx, request, response)
        await send_json(send, 200, response, headers)
    gateway.recorder.submit(record)


async def _complete(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ResponsesRequest,
    images: dict[str, Any],
    lookup: Lookup | None,
) -> None:
    call, answers = await complete(gateway, ctx, request.chat, images)
    answer = from_converse(answers[0], json_tool=call.json_tool)
    response = response_from_answer(new_response_id(), int(time.time()), request.echo, answer)
    record_usage(ctx, answer.usage.total_tokens if answer.usage else 0)
    record = gateway.recorder.answer_success(ctx, request.chat, call.params, answer)
    await _store(gateway, ctx, request, response)
    headers = ctx.trace_headers() + gateway.recorder.cost_headers(record) + dropped_headers(call)
    if lookup is not None:
        headers += lookup.headers()
    await send_json(send, 200, response, headers)
    gateway.recorder.submit(record)
    await cache_store(gateway, ctx, lookup, response)


async def _stream(
    gateway: Gateway,
    send: Send,
    ctx: RequestContext,
    request: ResponsesRequest,
    images: dict[str, Any],
    lookup: Lookup | None,
) -> None:
    call, streams = await open_streams(gateway, ctx, request.chat, images)
    _, events, first = streams[0]
    renderer = ResponseStreamRenderer(new_response_id(), request.echo)
    translator = StreamTranslator(renderer, call.json_tool)
    cache_headers = lookup.headers() if lookup is not None else []
    await sse.start_stream(send, ctx.trace_headers() + cache_headers + dropped_headers(call))
    error: GatewayError | None = None
    status = 200
    try:
        try:
            await _forward(send, translator, first, ctx)  # the events read ahead, in one write
            async for event in events:
                await _forward(send, translator, (event,), ctx)
        except Exception as exc:  # a Bedrock error, or anything unexpected: the client still gets the end
            error = stream_failure(exc)
            failed = renderer.failed(error)
            # kept like a finished one (OpenAI does): GET shows it with status "failed" and its error
            await _store(gateway, ctx, request, failed[-1]["response"])
            await sse.end_stream(send, encode_events(failed))
        else:
            ending = renderer.end()
            # stored before the last event goes out: a client that continues at once finds it
            await _store(gateway, ctx, request, renderer.final_response())
            await sse.end_stream(send, encode_events(ending))
    except asyncio.CancelledError:
        # the client went away (the app cancels the request): the upstream call is cancelled with it
        _end_stream(gateway, ctx, request, call.params, translator, 499, None)
        raise
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()
    if error is not None:
        status = error.status
    _end_stream(gateway, ctx, request, call.params, translator, status, error)
    if status == 200:  # the response a stream that ended well amounts to
        await cache_store(gateway, ctx, lookup, renderer.final_response())


async def _forward(
    send: Send, translator: StreamTranslator[ResponseEvents], events: Sequence[Event], ctx: RequestContext
) -> None:
    """The events of what is already here, as one write."""
    batches = [batch for event_type, payload in events for batch in translator.feed(event_type, payload)]
    out = [event for batch in batches if batch for event in batch]
    if out:
        if "first_token" not in ctx.extra:
            ctx.extra["first_token"] = time.time()
        await sse.send_bytes(send, encode_events(out))


def _end_stream(
    gateway: Gateway,
    ctx: RequestContext,
    request: ResponsesRequest,
    params: dict[str, Any],
    translator: StreamTranslator[ResponseEvents],
    status: int,
    error: GatewayError | None,
) -> None:
    record_usage(ctx, translator.usage.total_tokens if translator.usage else 0)
    gateway.recorder.submit(
        gateway.recorder.chat_stream_end(ctx, request.chat, params, [translator], status, error)
    )


async def _store(
    gateway: Gateway, ctx: RequestContext, request: ResponsesRequest, response: dict[str, Any]
) -> None:
    """Keep a finished (or failed) response for previous_response_id, GET and DELETE (unless store is
    false)."""
    store = gateway.responses
    if not request.store or store is None:
        return
    now = time.time()
    items = [*request.history, *request.input_items, *response["output"]]
    stored = StoredResponse(
        response["id"], ctx.principal.key_id, response, items, now, now + store.ttl_seconds
    )
    try:
        await store.save(stored)
    except ValueError as exc:  # SpendStoreError: the answer still goes out, only the storing failed
        logger.warning("response %s not stored: %s", response["id"], exc)


async def _load(gateway: Gateway, response_id: str, principal: KeyIdentity) -> StoredResponse | None:
    if gateway.responses is None:
        return None
    try:
        return await gateway.responses.load(response_id, principal.key_id, time.time())
    except ValueError as exc:  # SpendStoreError: the database is unreachable
        raise _store_unavailable(exc) from None


def _store_unavailable(exc: ValueError) -> GatewayError:
    logger.warning("stored responses unavailable: %s", exc)
    return GatewayError(
        503,
        "Stored responses are unavailable right now (the gateway's database cannot be reached). Retry, or "
        "send the whole conversation as 'input' instead of 'previous_response_id'.",
        type="api_error",
        code=ErrorCode.STORED_RESPONSES_UNAVAILABLE,
        retryable=True,
    )


def _response_id(scope: Scope, suffix: str = "") -> str:
    response_id = str(scope["path"]).split(PATH_PREFIX, 1)[-1].rstrip("/").removesuffix(suffix)
    if not response_id or "/" in response_id:
        raise GatewayError(
            404,
            f"No route {scope['method']} {scope['path']}: use /v1/responses/{{response_id}}.",
            code=ErrorCode.NOT_FOUND,
        )
    return response_id


async def retrieve_response(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """GET /v1/responses/{id}: a stored response, for the key that created it; GET
    /v1/responses/{id}/input_items: the items it answered, a page at a time."""
    principal = gateway.keys.authenticate(scope)
    listing = str(scope["path"]).rstrip("/").endswith(INPUT_ITEMS)
    response_id = _response_id(scope, INPUT_ITEMS if listing else "")
    stored = await _load(gateway, response_id, principal)
    if stored is None:
        raise _not_found(response_id)
    headers = [(b"x-request-id", ctx.request_id.encode())]
    if not listing:
        await send_json(send, 200, stored.response, headers)
        return
    order, limit, after = _page_query(scope)
    page = item_list(input_items(stored.response, stored.items), order=order, limit=limit, after=after)
    await send_json(send, 200, page, headers)


def _page_query(scope: Scope) -> tuple[str, int, str | None]:
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(scope.get("query_string", b"").decode()).items()}
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_request(f"'order' must be 'asc' or 'desc', got {order!r}.", "order")
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid_request(f"'limit' must be a whole number from 1 to 100, got {raw_limit!r}.", "limit")
    return order, int(raw_limit), query.get("after")


async def delete_response(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """DELETE /v1/responses/{id}: gone for good, for the key that created it."""
    principal = gateway.keys.authenticate(scope)
    response_id = _response_id(scope)
    try:
        deleted = gateway.responses is not None and await gateway.responses.delete(
            response_id, principal.key_id
        )
    except ValueError as exc:
        raise _store_unavailable(exc) from None
    if not deleted:
        raise _not_found(response_id)
    body = {"id": response_id, "object": "response", "deleted": True}
    await send_json(send, 200, body, [(b"x-request-id", ctx.request_id.encode())])
