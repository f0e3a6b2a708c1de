"""Turn a finished request into its CallRecord, price it, and hand it to observability.

Exactly one record per request: `submit` marks the request being served (`current_request`) as recorded
and ignores a second record, and the app submits a failure record for any request that ends without one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from bedrock_proxy.anthropic.messages import finish_reason_of
from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.chat.answer import ChatAnswer
from bedrock_proxy.chat.embeddings import EmbeddingRequest
from bedrock_proxy.chat.estimates import charged_usage
from bedrock_proxy.chat.request import ChatRequest
from bedrock_proxy.chat.usage import total_usage
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.langfuse import REDACTED_CONTENT, is_true
from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import CallRecord, Usage
from bedrock_proxy.openai.completions import answer_message
from bedrock_proxy.openai.usage import usage_from_openai
from bedrock_proxy.server.context import RequestContext, current_request
from bedrock_proxy.spend.ledger import charged

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment

logger = logging.getLogger("bedrock_proxy.requests")


class Submits(Protocol):
    """Where records go: observability.hub.Observability."""

    def submit(self, record: CallRecord) -> None: ...


def _parse_body(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _cut_short(ctx: RequestContext) -> bool:
    """The request ended while its last upstream call was still running (the client left): Bedrock had the
    prompt, so the call is charged the prompt's estimate."""
    trace = ctx.trace
    return bool(
        trace is not None and trace.attempts and trace.attempts[-1].status == 499 and ctx.prompt_estimate
    )


class Recorder:
    def __init__(self, observability: Submits, *, log_messages: bool) -> None:
        self.observability = observability
        self.log_messages = log_messages

    def submit(self, record: CallRecord) -> None:
        """Metrics and sinks for the request's one record; a second record for the same request is ignored."""
        ctx = current_request.get()
        if ctx is not None:
            if ctx.recorded:
                logger.debug("request already recorded; record with status %d ignored", record.status)
                return
            ctx.recorded = True
        self.observability.submit(record)  # the ledger counts its cost here, so the reservation goes now:
        if ctx is not None:  # in one step, never counted twice nor not at all
            ctx.settle_reservation(record.cost if record.cost is not None and charged(record) else 0.0)
        if record.status == 499:  # not a failure of ours: say what happened, in words
            logger.info(
                "%s %s: the client closed the connection after %.0f ms, before the answer was complete",
                record.kind,
                record.model_group or "-",
                record.latency * 1000,
            )
        elif record.status >= 400:
            logger.log(
                logging.WARNING if record.status >= 500 else logging.INFO,
                "%s %s failed with %d (%s): %s",
                record.kind,
                record.model_group or "-",
                record.status,
                record.error_type or "no error type",
                record.error_message or "no message",
            )
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %d in %.1f ms via %s, %d+%d tokens, cost %s",
                record.kind,
                record.model_group,
                record.status,
                record.latency * 1000,
                record.deployment_id,
                record.usage.prompt_tokens,
                record.usage.completion_tokens,
                record.cost,
            )

    def _price(self, deployment: Deployment | None, usage: Usage) -> tuple[float | None, float | None]:
        if deployment is None:
            return None, None
        costs = cost_for(
            deployment.model_id,
            deployment.region,
            usage,
            deployment.input_cost_per_token,
            deployment.output_cost_per_token,
        )
        return costs if costs is not None else (None, None)

    def _record(
        self,
        ctx: RequestContext,
        kind: str,
        *,
        status: int,
        usage: Usage = Usage(),  # noqa: B008 - Usage is immutable
        usage_estimated: bool = False,
        stream: bool = False,
        input: Any = None,
        output: Any = None,
        finish_reason: str | None = None,
        params: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        user: str | None = None,
        error: GatewayError | None = None,
        model_group: str | None = None,
        client_api: str | None = None,
    ) -> CallRecord:
        trace = ctx.trace
        deployment = trace.deployment if trace is not None else None
        # a failed call is charged for what Bedrock produced before it ended (usage_estimated says how known)
        charged = status < 400 or usage.total_tokens > 0
        input_cost, output_cost = self._price(deployment, usage) if charged else (None, None)
        input, output = self._messages(metadata, input, output)
        return CallRecord(
            request_id=ctx.request_id,
            kind=kind,
            model_group=ctx.model or model_group or "",
            deployment_id=deployment.deployment_id if deployment else "",
            bedrock_model_id=deployment.model_id if deployment else "",
            region=deployment.region if deployment else "",
            start_time=ctx.started,
            end_time=time.time(),
            status=status,
            stream=stream,
            first_token_time=ctx.extra.get("first_token"),
            upstream_latency=trace.upstream_seconds if trace else 0.0,
            usage=usage,
            usage_estimated=usage_estimated,
            cost=None if input_cost is None else input_cost + (output_cost or 0.0),
            input_cost=input_cost,
            output_cost=output_cost,
            input=input,
            output=output,
            finish_reason=finish_reason,
            params=params or {},
            metadata=metadata or {},
            user=user,
            api_key_alias=ctx.principal.alias,
            api_key_id=ctx.principal.key_id,
            error_type=(error.upstream or error.code or error.type) if error else None,
            error_message=error.message if error else None,
            attempts=tuple(trace.attempts) if trace else (),
            fallback_used=trace.fallback_used if trace else False,
            client_api=client_api or ctx.client_api or "openai.chat",
        )

    def _messages(self, metadata: dict[str, Any] | None, input: Any, output: Any) -> tuple[Any, Any]:
        """Apply the message-logging opt-outs once, here, so that no sink can export what a client or the
        config asked to keep out (turn_off_message_logging, and per request mask_input / mask_output)."""
        if not self.log_messages:
            return None, None
        if not metadata:
            return input, output
        if is_true(metadata.get("turn_off_message_logging")):
            return None, None
        if is_true(metadata.get("mask_input")):
            input = REDACTED_CONTENT
        if is_true(metadata.get("mask_output")):
            output = REDACTED_CONTENT
        return input, output

    def chat_success(
        self,
        ctx: RequestContext,
        request: ChatRequest,
        params: dict[str, Any],
        result: dict[str, Any],
        *,
        stream: bool,
    ) -> CallRecord:
        choice = result["choices"][0]
        return self._record(
            ctx,
            "chat",
            status=200,
            usage=usage_from_openai(result.get("usage")),
            stream=stream,
            input=request.messages,
            output=choice["message"],
            finish_reason=choice.get("finish_reason"),
            params=params,
            metadata=with_guardrail_trace(request.metadata, result.get("guardrail_trace")),
            user=request.user,
            client_api=request.client_api,
        )

    def answer_success(
        self,
        ctx: RequestContext,
        request: ChatRequest,
        params: dict[str, Any],
        answer: ChatAnswer,
        *,
        stream: bool = False,
    ) -> CallRecord:
        """A whole answer of any client API, recorded in the gateway's terms (the output as the assistant
        message observability shows for every API)."""
        return self._record(
            ctx,
            "chat",
            status=200,
            usage=answer.usage or Usage(),
            stream=stream,
            input=request.messages,
            output=answer_message(answer, refusal=False),
            finish_reason=answer.finish_reason,
            params=params,
            metadata=with_guardrail_trace(request.metadata, answer.guardrail_trace),
            user=request.user,
            client_api=request.client_api,
        )

    def cached_message(
        self, ctx: RequestContext, request: ChatRequest, message: dict[str, Any], usage: dict[str, Any]
    ) -> CallRecord:
        """An Anthropic message answered from the response cache: its stored usage, zero cost."""
        cache_read = int(usage.get("cache_read_input_tokens") or 0)
        cache_write = int(usage.get("cache_creation_input_tokens") or 0)
        record = self._record(
            ctx,
            "chat",
            status=200,
            usage=Usage(
                prompt_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
                completion_tokens=int(usage.get("output_tokens") or 0),
                cache_read_tokens=cache_read,
                cache_write_tokens=cache_write,
            ),
            input=request.messages,
            output=message.get("content"),
            finish_reason=finish_reason_of(message.get("stop_reason")),
            metadata=request.metadata,
            user=request.user,
            client_api=request.client_api,
        )
        return dataclasses.replace(record, cost=0.0, input_cost=0.0, output_cost=0.0, cache_hit=True)

    def chat_stream_end(
        self,
        ctx: RequestContext,
        request: ChatRequest,
        params: dict[str, Any],
        translators: Sequence[StreamTranslator[Any]],  # whatever each client API renders
        status: int,
        error: GatewayError | None,
    ) -> CallRecord:
        if status == 200:
            usage, estimated = total_usage(translator.usage for translator in translators), False
        else:  # cut short: Bedrock's usage where it arrived, else an estimate of what it produced
            choices = [(translator.usage, translator.answer()) for translator in translators]
            usage, estimated = charged_usage(ctx.prompt_estimate, choices)
        return self._record(
            ctx,
            "chat",
            status=status,
            usage=usage,
            usage_estimated=estimated,
            stream=True,
            input=request.messages,
            output=answer_message(translators[0].answer(), refusal=False) if translators else None,
            finish_reason=translators[0].finish_reason if translators else None,
            params=params,
            metadata=with_guardrail_trace(
                request.metadata, translators[0].guardrail_trace if translators else None
            ),
            user=request.user,
            error=error,
            client_api=request.client_api,
        )

    def embedding_success(
        self, ctx: RequestContext, request: EmbeddingRequest, result: dict[str, Any]
    ) -> CallRecord:
        usage = result.get("usage") or {}
        return self._record(
            ctx,
            "embedding",
            status=200,
            usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0)),
            input=request.inputs,
            output={"count": len(result["data"]), "dimensions": len(result["data"][0]["embedding"])}
            if result["data"]
            else None,
            params={"dimensions": request.dimensions, "encoding_format": request.encoding_format},
            user=request.user,
        )

    def cache_hit(
        self,
        ctx: RequestContext,
        kind: str,
        request: ChatRequest | EmbeddingRequest,
        answer: dict[str, Any] | ChatAnswer,
        *,
        stream: bool = False,
    ) -> CallRecord:
        """A request answered from the response cache: the stored usage, no upstream attempt, zero cost."""
        if isinstance(answer, ChatAnswer):  # a client API that keeps its cached answers in its own shape
            assert isinstance(request, ChatRequest)
            record = self.answer_success(ctx, request, {}, answer, stream=stream)
        elif isinstance(request, ChatRequest):  # kind "chat"; an EmbeddingRequest is kind "embedding"
            record = self.chat_success(ctx, request, {}, answer, stream=stream)
        else:
            record = self.embedding_success(ctx, request, answer)
        return dataclasses.replace(record, cost=0.0, input_cost=0.0, output_cost=0.0, cache_hit=True)

    def failure(
        self,
        ctx: RequestContext,
        kind: str,
        error: GatewayError,
        body: Any = None,
        *,
        status: int | None = None,
    ) -> CallRecord:
        """A failed request's record, with what the client sent (read from the raw body) when it parses.
        `status` is the one the client was answered with, where its API's differs from the error's (529)."""
        if body is None:
            body = _parse_body(ctx.body)
        if not isinstance(body, dict):
            body = {}
        client_api = ctx.extra.get("client_api") or ctx.client_api or "openai.chat"
        messages = body.get(
            "input" if kind == "embedding" or client_api == "openai.responses" else "messages"
        )
        metadata = body.get("metadata")
        user = body.get("user")
        model = body.get("model")
        cut_short = _cut_short(ctx)
        return self._record(
            ctx,
            kind,
            status=error.status if status is None else status,
            usage=Usage(prompt_tokens=ctx.prompt_estimate) if cut_short else Usage(),
            usage_estimated=cut_short,
            input=messages,
            metadata=metadata if isinstance(metadata, dict) else None,
            user=user if isinstance(user, str) else None,
            error=error,
            model_group=model if isinstance(model, str) else None,
            client_api=client_api,
        )

    @staticmethod
    def cost_headers(record: CallRecord) -> list[tuple[bytes, bytes]]:
        if record.cost is None:
            return []
        value = f"{record.cost:.10f}".rstrip("0").rstrip(".") or "0"
        return [(b"x-litellm-response-cost", value.encode()), (b"x-bedrock-proxy-cost-usd", value.encode())]


def with_guardrail_trace(metadata: dict[str, Any] | None, trace: Any) -> dict[str, Any] | None:
    """The record's metadata, with the guardrail's assessment (Bedrock's trace.guardrail) when the
    deployment's guardrail traces: every sink (Langfuse, OpenTelemetry, the webhook) then sees what the
    guardrail found. The client's own metadata is not changed."""
    if not isinstance(trace, dict):
        return metadata
    return {**(metadata or {}), "guardrail_trace": trace}
