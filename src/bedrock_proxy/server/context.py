"""Per-request state shared by the handlers and the record they leave behind."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bedrock_proxy.keys import ANONYMOUS, KeyIdentity
from bedrock_proxy.router.router import CallTrace
from bedrock_proxy.spend.reservations import Reservation


@dataclass
class RequestContext:
    request_id: str
    started: float = field(default_factory=time.time)
    timer: float = field(default_factory=time.perf_counter)
    principal: KeyIdentity = ANONYMOUS
    trace: CallTrace | None = None
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    body: bytes | None = None  # the raw request body, so a failure record can carry the client's metadata
    recorded: bool = False  # set when the request's one CallRecord was submitted
    # the call's maximum cost set aside against its key's budget; settled when its record is submitted
    reservation: Reservation | None = None
    prompt_estimate: int = 0  # the prompt's tokens, estimated before the call (charged if no usage arrives)
    client_api: str = ""  # the client API of the route (named in the CallRecord, even of a failure)
    # gives back the key's in-flight slot (max_parallel_requests) when the request ends
    release_slot: Callable[[], Awaitable[None]] | None = None

    def settle_reservation(self, cost: float = 0.0) -> None:
        """Give the reservation back with the call's real cost (just counted by the ledger; 0: none)."""
        if self.reservation is not None:
            self.reservation.settle(cost)
            self.reservation = None

    def trace_headers(self) -> list[tuple[bytes, bytes]]:
        """Tell the client which deployment answered, after how many attempts, and whether by fallback."""
        headers = [(b"x-request-id", self.request_id.encode())]
        trace = self.trace
        if trace is not None and trace.deployment is not None:
            headers.append((b"x-bedrock-proxy-deployment", trace.deployment.deployment_id.encode()))
            headers.append((b"x-bedrock-proxy-model-id", trace.deployment.model_id.encode()))
            headers.append((b"x-bedrock-proxy-attempts", str(len(trace.attempts)).encode()))
            headers.append((b"x-bedrock-proxy-fallback", b"true" if trace.fallback_used else b"false"))
            # what the gateway itself spent so far: time since the request arrived minus time on Bedrock
            overhead = max(time.perf_counter() - self.timer - trace.upstream_seconds, 0.0)
            headers.append((b"x-bedrock-proxy-overhead-ms", f"{overhead * 1000:.3f}".encode()))
        return headers


# The request being served, so the recorder can mark it recorded without every handler passing it along.
current_request: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "current_request", default=None
)
