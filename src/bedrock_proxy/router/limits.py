"""Limits on the whole gateway: max_parallel_requests, and the seed's global rpm / tpm.

A request is admitted once, before its first attempt, and holds its admission (an in-flight slot, its
estimated tokens) until it ends, a stream included. Token limits count an estimate up front and the real
usage once the answer is known.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from bedrock_proxy.chat.request import ChatRequest, DocumentPart, ReasoningPart, TextPart
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.router.state import CounterStore

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings
    from bedrock_proxy.router.router import CallTrace

IN_FLIGHT_KEY = "inflight:*"
RPM_KEY = "rpm:*"
TPM_KEY = "tpm:*"


def limit_error(message: str, retry_after: float, code: ErrorCode) -> GatewayError:
    seconds = max(1, math.ceil(retry_after))
    return GatewayError(
        429,
        f"{message}; retry in {seconds} s.",
        type="rate_limit_error",
        code=code,
        retry_after=float(seconds),
    )


def estimate_chat_tokens(messages: list[Any]) -> int:
    """About 4 characters a token, the estimate Bedrock's own examples use; images count 1,600."""
    characters = 0
    tokens = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            characters += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    if part.get("type") == "text":
                        characters += len(part.get("text") or "")
                    elif part.get("type") == "image_url":
                        tokens += 1600
    return tokens + math.ceil(characters / 4)


def estimate_request_tokens(request: ChatRequest) -> int:
    """The estimate for a parsed request, whatever its client API: every text, tool call, tool result and
    tool definition at about 4 characters a token, images 1,600, documents a flat 500."""
    characters = 0
    tokens = 0
    for message in request.parsed_messages:
        for part in message.parts:
            if isinstance(part, TextPart | ReasoningPart):
                characters += len(part.text)
            elif isinstance(part, DocumentPart):
                tokens += 500
            else:
                tokens += 1600
        for call in message.tool_calls:
            characters += len(call.name) + len(orjson.dumps(call.arguments))
    for tool in request.tools or []:
        characters += len(tool.name) + len(tool.description or "") + len(orjson.dumps(tool.parameters))
    return max(tokens + math.ceil(characters / 4), 1)


def estimate_text_tokens(texts: list[str]) -> int:
    return math.ceil(sum(len(text) for text in texts) / 4)


class Ticket:
    """One admitted request: releases its slots on exit, corrects its token estimate with real usage."""

    __slots__ = ("_admission", "deployment_slot", "estimate", "slot", "trace", "usage_recorded")

    def __init__(self, admission: Admission, trace: CallTrace, estimate: int) -> None:
        self._admission = admission
        self.trace = trace
        self.estimate = estimate
        self.usage_recorded = False
        self.slot = False
        self.deployment_slot: str | None = None  # the answering deployment's in-flight key, held to the end

    def record_usage(self, tokens: int) -> None:
        """The answer's real token count (prompt + completion) replaces the estimate."""
        if self.usage_recorded:
            return
        self.usage_recorded = True
        self._admission.correct_tokens(self, tokens)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._admission.release(self)


class Admission:
    """Checks and counts the global limits; the counters live in the shared CounterStore."""

    def __init__(
        self, store: CounterStore, settings: Settings, on_release: Callable[[Ticket, int], None]
    ) -> None:
        self.store = store
        self.max_parallel = settings.max_parallel_requests
        self.rpm = settings.rpm
        self.tpm = settings.tpm
        self._on_release = on_release  # router callback: deployment slot + token correction per deployment

    def admit(self, trace: CallTrace, estimate: int) -> Ticket:
        store = self.store
        ticket = Ticket(self, trace, estimate)
        trace.estimated_tokens = estimate
        now = time.monotonic()
        if self.rpm and store.total(RPM_KEY, now) >= self.rpm:
            wait = store.free_in(RPM_KEY, self.rpm, 1, now)
            raise limit_error(
                f"The gateway's limit of {self.rpm} requests per minute (rpm) is reached",
                wait,
                ErrorCode.RPM_LIMIT_EXCEEDED,
            )
        if self.tpm and store.total(TPM_KEY, now) + estimate > self.tpm:
            if estimate > self.tpm:
                raise GatewayError(
                    400,
                    f"This request needs about {estimate} tokens, more than the gateway's limit of {self.tpm}"
                    " tokens per minute (tpm). Send a shorter request or raise tpm in config.yaml.",
                    code=ErrorCode.TPM_LIMIT_EXCEEDED,
                )
            wait = store.free_in(TPM_KEY, self.tpm, estimate, now)
            raise limit_error(
                f"The gateway's limit of {self.tpm} tokens per minute (tpm) is reached",
                wait,
                ErrorCode.TPM_LIMIT_EXCEEDED,
            )
        if self.max_parallel is not None:
            if not store.acquire(IN_FLIGHT_KEY, self.max_parallel):
                raise limit_error(
                    f"The gateway is serving its maximum of {self.max_parallel} parallel requests"
                    " (max_parallel_requests)",
                    1.0,
                    ErrorCode.MAX_PARALLEL_REQUESTS_EXCEEDED,
                )
            ticket.slot = True
        if self.rpm:
            store.add(RPM_KEY, 1, now)
        if self.tpm and estimate:
            store.add(TPM_KEY, estimate, now)
        trace.ticket = ticket
        return ticket

    def correct_tokens(self, ticket: Ticket, tokens: int) -> None:
        if self.tpm:
            self.store.add(TPM_KEY, tokens - ticket.estimate, time.monotonic())
        self._on_release(ticket, tokens)

    def release(self, ticket: Ticket) -> None:
        if not ticket.usage_recorded:
            # no answer: the upstream billed nothing we know of, give the estimate back
            ticket.usage_recorded = True
            self.correct_tokens(ticket, 0)
        if ticket.slot:
            ticket.slot = False
            self.store.release(IN_FLIGHT_KEY)
        if ticket.deployment_slot is not None:
            self.store.release(ticket.deployment_slot)
            ticket.deployment_slot = None
        ticket.trace.ticket = None
