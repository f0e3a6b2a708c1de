"""Limits on the whole gateway: max_parallel_requests, and the seed's global rpm / tpm.

A request is admitted once, with its first attempt, and holds its admission (an in-flight slot, its
estimated tokens) until it ends, a stream included. Token limits count an estimate up front and the real
usage once the answer is known. The gateway's checks are taken in the same atomic step as the first
deployment's (one round trip to a shared store, not two): `Admission.admit` only prepares them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import orjson

from bedrock_proxy.chat.request import ChatRequest, DocumentPart, ReasoningPart, TextPart
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.router.state import Check, SharedState

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
    """One request's admission, an async context manager: `async with router.admit(trace, estimate)`
    prepares the gateway's checks (the router takes them with the first deployment's), and on exit gives
    back its slots and corrects its token estimate with the real usage, in one call to the store."""

    __slots__ = (
        "_admission",
        "admitted",
        "deployment_slot",
        "estimate",
        "pending",
        "slot",
        "tokens",
        "trace",
        "usage_recorded",
    )

    def __init__(self, admission: Admission, trace: CallTrace, estimate: int) -> None:
        self._admission = admission
        self.trace = trace
        self.estimate = estimate
        self.usage_recorded = False
        self.tokens = 0
        self.pending: tuple[Check, ...] = ()  # the gateway's checks, until taken with a deployment's
        self.admitted = False  # the gateway's checks were taken: its estimate counts, its slot is held
        self.slot = ""  # the gateway-wide in-flight slot's holder, while held
        # the answering deployment's in-flight slot (key, holder), held to the end
        self.deployment_slot: tuple[str, str] | None = None

    def record_usage(self, tokens: int) -> None:
        """The answer's real token count (prompt + completion) replaces the estimate when the ticket ends."""
        if self.usage_recorded:
            return
        self.usage_recorded = True
        self.tokens = tokens

    async def __aenter__(self) -> Ticket:
        await self._admission.admit(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        release = self._admission.release(self)
        if isinstance(exc_info[1], asyncio.CancelledError):
            spawn(release)  # cancelled: the task must end now, the release must still happen
        else:
            await release


_background: set[asyncio.Task[None]] = set()


def spawn(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` to its end in the background (a release that must not be lost with a cancelled task)."""
    task = asyncio.ensure_future(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def drain_background(timeout: float = 2.0) -> None:
    """At shutdown, before the store closes: the releases still running are written."""
    if _background:
        await asyncio.wait(list(_background), timeout=timeout)


Settle = Callable[[Ticket], list[tuple[str, float]]]  # the router's token corrections for a ticket


class Admission:
    """The gateway-wide limits as checks the router takes with the first deployment's (one atomic `choose`),
    their 429s, and the release of what a ticket held."""

    def __init__(
        self, store: SharedState, settings: Settings, on_release: Settle, holder: Callable[[], str]
    ) -> None:
        self.store = store
        self.max_parallel = settings.max_parallel_requests
        self.rpm = settings.rpm
        self.tpm = settings.tpm
        self._on_release = on_release  # router callback: the answering deployment's token correction
        self._holder = holder

    async def admit(self, ticket: Ticket) -> None:
        """Prepare the gateway's checks (refusing at once a request that can never fit)."""
        trace, estimate = ticket.trace, ticket.estimate
        trace.estimated_tokens = estimate
        checks: list[Check] = []
        if self.rpm:
            checks.append(Check(RPM_KEY, self.rpm))
        if self.tpm:
            if estimate > self.tpm:
                raise GatewayError(
                    400,
                    f"This request needs about {estimate} tokens, more than the gateway's limit of {self.tpm}"
                    " tokens per minute (tpm). Send a shorter request or raise tpm in config.yaml.",
                    code=ErrorCode.TPM_LIMIT_EXCEEDED,
                )
            checks.append(Check(TPM_KEY, self.tpm, estimate, estimate))
        if self.max_parallel is not None:
            checks.append(Check(IN_FLIGHT_KEY, self.max_parallel, holder=self._holder()))
        ticket.pending = tuple(checks)
        trace.ticket = ticket

    @staticmethod
    def taken(ticket: Ticket) -> None:
        """The pending checks were taken (with a deployment's): the slot is now held."""
        ticket.slot = next((check.holder for check in ticket.pending if check.is_slot), "")
        ticket.pending = ()
        ticket.admitted = True

    def refusal(self, check: Check, wait: float) -> GatewayError:
        """The 429 for the gateway's check that refused."""
        if check.key == RPM_KEY:
            return limit_error(
                f"The gateway's limit of {self.rpm} requests per minute (rpm) is reached",
                wait,
                ErrorCode.RPM_LIMIT_EXCEEDED,
            )
        if check.key == TPM_KEY:
            return limit_error(
                f"The gateway's limit of {self.tpm} tokens per minute (tpm) is reached",
                wait,
                ErrorCode.TPM_LIMIT_EXCEEDED,
            )
        return limit_error(
            f"The gateway is serving its maximum of {self.max_parallel} parallel requests"
            " (max_parallel_requests)",
            wait,
            ErrorCode.MAX_PARALLEL_REQUESTS_EXCEEDED,
        )

    async def release(self, ticket: Ticket) -> None:
        """Slots back, estimates corrected (to 0 when no answer came: the upstream billed nothing we know)."""
        tokens = ticket.tokens if ticket.usage_recorded else 0
        ticket.usage_recorded = True
        ticket.tokens = tokens
        adds = self._on_release(ticket)
        if self.tpm and ticket.admitted and tokens != ticket.estimate:
            adds.append((TPM_KEY, tokens - ticket.estimate))
        releases: list[tuple[str, str]] = []
        if ticket.slot:
            releases.append((IN_FLIGHT_KEY, ticket.slot))
            ticket.slot = ""
        if ticket.deployment_slot is not None:
            releases.append(ticket.deployment_slot)
            ticket.deployment_slot = None
        ticket.trace.ticket = None
        if adds or releases:
            await self.store.settle(adds, releases)
