"""One model call through the router, whichever client API asked for it: admission (limits, context-window
checks), the Converse body for each deployment tried, the whole-answer call, opening a stream so that a
failure before its first byte can still be retried or fall back, and the failure that ends a stream.

Shared by every chat-like route (server/chat.py for OpenAI chat completions, server/responses.py for the
Responses API): each parses its own body into a ChatRequest and renders the answers its own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson

from bedrock_proxy.bedrock.embeddings import require_chat_model
from bedrock_proxy.bedrock.streaming import converse_events
from bedrock_proxy.bedrock.translate import ConverseCall, to_converse
from bedrock_proxy.chat.request import ChatRequest, ImagePart, RemoteImagePart, TextPart
from bedrock_proxy.errors import ErrorCode, GatewayError, timeout_error
from bedrock_proxy.router.limits import estimate_chat_tokens
from bedrock_proxy.router.policy import CONTENT_POLICY, CONTEXT_WINDOW
from bedrock_proxy.router.router import CallTrace
from bedrock_proxy.server.budget import reserve_budget
from bedrock_proxy.server.context import RequestContext

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway

Event = tuple[str, dict[str, Any]]  # one decoded ConverseStream event: (event type, payload)
Events = AsyncGenerator[Event, None]
# one opened upstream stream: (unused, its events, the events already read ahead)
Opened = tuple[None, Events, list[Event]]

logger = logging.getLogger("bedrock_proxy.server")


@asynccontextmanager
async def admitted(gateway: Gateway, ctx: RequestContext, request: ChatRequest) -> AsyncIterator[None]:
    """The router's admission for this request (gateway-wide limits, a tpm estimate, the context window a
    deployment must have), held while the call runs; before it, the call's maximum cost is reserved
    against the key's budget (server/budget.py)."""
    ctx.trace = CallTrace(request.model)
    router = gateway.router
    prompt = prompt_estimate(request)
    ctx.prompt_estimate = prompt  # what a call cut short is charged for its input (no usage arrived)
    # the last step before the call: its maximum cost is set aside against the key's budget
    await reserve_budget(gateway, ctx, request.model, prompt, request.max_tokens, request.n or 1)
    estimate = prompt * (request.n or 1) if router.counts_tokens else 0  # n calls each send the prompt
    if router.pre_call_checks:
        # what must fit in one call's context window: the prompt and the answer it may grow to
        ctx.trace.context_tokens = prompt + (request.max_tokens or 0)
    async with router.admit(ctx.trace, estimate):
        yield


def prompt_estimate(request: ChatRequest) -> int:
    """The prompt's tokens, estimated before the call (tpm limits, context windows). OpenAI chat's raw
    messages are read as they always were; another API's, whose raw shape differs, from the parsed
    messages in the same OpenAI shape (text parts, image parts, tool call arguments)."""
    if request.client_api == "openai.chat":
        return estimate_chat_tokens(request.messages)
    shaped: list[dict[str, Any]] = []
    for message in request.parsed_messages:
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart | RemoteImagePart):
                parts.append({"type": "image_url"})
        parts += [
            {"type": "text", "text": orjson.dumps(call.arguments).decode()} for call in message.tool_calls
        ]
        shaped.append({"role": message.role, "content": parts})
    return estimate_chat_tokens(shaped)


# Converse stop reasons that make an answer worth a fallback, when one of that kind is configured
_FALLBACK_STOP_REASONS = {
    "guardrail_intervened": CONTENT_POLICY,
    "content_filtered": CONTENT_POLICY,
    "model_context_window_exceeded": CONTEXT_WINDOW,
}


def classify(result: tuple[ConverseCall, list[dict[str, Any]]]) -> str | None:
    for answer in result[1]:
        kind = _FALLBACK_STOP_REASONS.get(answer.get("stopReason") or "")
        if kind is not None:
            return kind
    return None


def record_usage(ctx: RequestContext, total_tokens: int) -> None:
    ticket = ctx.trace.ticket if ctx.trace is not None else None
    if ticket is not None:
        ticket.record_usage(total_tokens)


def converse_call(
    gateway: Gateway, request: ChatRequest, deployment: Deployment, images: dict[str, Any]
) -> ConverseCall:
    require_chat_model(deployment.model_name, deployment.model_id)
    call = to_converse(
        request,
        model_id=deployment.model_id,
        defaults=deployment.defaults,
        drop_params=gateway.drop_params(deployment),
        images=images,
        features=deployment.features,
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


async def complete(
    gateway: Gateway, ctx: RequestContext, request: ChatRequest, images: dict[str, Any]
) -> tuple[ConverseCall, list[dict[str, Any]]]:
    """The whole answer(s), one Converse call per choice, through the router's retries and fallbacks."""
    n = request.n or 1

    async def attempt(deployment: Deployment, timeout: float) -> tuple[ConverseCall, list[dict[str, Any]]]:
        call = converse_call(gateway, request, deployment, images)
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
    return await gateway.router.run(
        request.model, attempt, ctx.trace, allowed=ctx.principal.models, classify=classify
    )


async def open_streams(
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
            events: Events = events_from(converse_events(answer))
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
        call = converse_call(gateway, request, deployment, images)
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
    buffered = converse_call(gateway, request, first, images).buffered_stream
    return await gateway.router.run(
        request.model, attempt, trace, allowed=ctx.principal.models, stream=not buffered
    )


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


async def events_from(events: list[Event]) -> Events:
    for event in events:
        yield event
