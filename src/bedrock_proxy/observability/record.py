"""CallRecord: the one immutable account of a request, built at its end and handed to every sink.

Sinks (Langfuse, OpenTelemetry, webhook, Prometheus, spend ledger) read only this; nothing on the
request path waits for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bedrock_proxy.chat.usage import Usage  # defined with the gateway's chat types; re-exported


class DeploymentState(IntEnum):
    """What the router reports about one deployment, as the state gauges show it (0, 1, 2).

    Defined here, the lowest layer that needs it: the router reports it, metrics and alerting hear it.
    """

    HEALTHY = 0
    PARTIAL = 1  # failing now and then, or a background health check failed
    COOLDOWN = 2  # past allowed_fails: no requests until cooldown_time has passed


__all__ = ["Attempt", "CallRecord", "DeploymentState", "Usage"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream call made for the request: a first try, a retry or a fallback."""

    deployment_id: str
    model_group: str
    bedrock_model_id: str
    region: str
    start_time: float  # time.time()
    end_time: float
    status: int  # HTTP status the attempt ended with (200 on success)
    error_type: str | None = None  # Bedrock exception name or Timeout / ConnectionError
    error_message: str | None = None
    is_fallback: bool = False
    first_token_time: float | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    request_id: str
    kind: str  # "chat" | "embedding"
    model_group: str  # the public model name the client asked for
    deployment_id: str  # deployment that produced the final answer (or last tried)
    bedrock_model_id: str
    region: str
    start_time: float  # time.time() when the request was received
    end_time: float
    status: int  # HTTP status returned to the client
    stream: bool = False
    first_token_time: float | None = None  # time.time() of the first streamed delta
    upstream_latency: float = 0.0  # seconds spent waiting on Bedrock, all attempts
    usage: Usage = field(default_factory=Usage)
    # the usage is the gateway's estimate, not Bedrock's: the call was cut short (the client left, the
    # stream failed) before Bedrock sent its usage; it is still charged, from the tokens produced
    usage_estimated: bool = False
    cost: float | None = None  # USD
    input_cost: float | None = None
    output_cost: float | None = None
    input: Any = None  # OpenAI messages (or embedding inputs); None when message logging is off
    output: Any = None  # assistant message dict (or embedding summary)
    finish_reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # model parameters actually sent
    metadata: dict[str, Any] = field(default_factory=dict)  # client request metadata
    user: str | None = None  # OpenAI `user` field
    api_key_alias: str | None = None  # never the key itself
    api_key_id: str | None = None  # the key's SHA-256 hex digest: what spend and per-key limits count under
    error_type: str | None = None
    error_message: str | None = None
    attempts: tuple[Attempt, ...] = ()
    fallback_used: bool = False
    cache_hit: bool = False  # answered from the response cache: no upstream call, zero cost
    client_api: str = (
        "openai.chat"  # the API the client spoke: openai.chat, openai.responses, anthropic.messages
    )

    @property
    def latency(self) -> float:
        return self.end_time - self.start_time

    @property
    def ok(self) -> bool:
        return self.status < 400
