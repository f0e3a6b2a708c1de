"""Alert: one thing an operator should look at now, with the words for Slack and the fields for a webhook."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

COOLDOWN = "deployment_cooldown"
FAILURES = "model_group_failures"
SINK_DROPPED = "sink_dropped_records"
SINK_CREDENTIALS = "sink_credentials_rejected"
SHARED_STATE = "shared_state_unavailable"
SOFT_BUDGET = "soft_budget_crossed"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # COOLDOWN | FAILURES | SINK_DROPPED | SINK_CREDENTIALS | SHARED_STATE | SOFT_BUDGET
    subject: str  # what rate limiting is keyed on, e.g. "model_group_failures:claude-3-haiku"
    text: str  # one human sentence, what Slack and the log show
    model_group: str | None = None
    deployment_id: str | None = None
    sink: str | None = None
    count: int | None = None
    window_seconds: float | None = None
    time: float = field(default_factory=time.time)

    def payload(self) -> dict[str, Any]:
        """The JSON a generic webhook receives: the text plus every field set, so a receiver can route it."""
        body: dict[str, Any] = {
            "type": "alert",
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text,
        }
        for name in ("model_group", "deployment_id", "sink", "count", "window_seconds"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        body["time"] = self.time
        return body


def cooldown_alert(deployment_id: str, model_group: str, model_id: str = "", region: str = "") -> Alert:
    where = " ".join(part for part in (model_id, region) if part)
    return Alert(
        COOLDOWN,
        f"{COOLDOWN}:{deployment_id}",
        f"bedrock-proxy: deployment {deployment_id} of model group {model_group}"
        f"{f' ({where})' if where else ''} entered cooldown after repeated failures",
        model_group=model_group,
        deployment_id=deployment_id,
    )


def failures_alert(model_group: str, count: int, window_seconds: float, last_error: str | None) -> Alert:
    error = f"; last error: {last_error}" if last_error else ""
    return Alert(
        FAILURES,
        f"{FAILURES}:{model_group}",
        f"bedrock-proxy: model group {model_group} failed {count} requests within "
        f"{window_seconds:g} seconds{error}",
        model_group=model_group,
        count=count,
        window_seconds=window_seconds,
    )


def dropped_alert(sink: str, count: int, total: int) -> Alert:
    return Alert(
        SINK_DROPPED,
        f"{SINK_DROPPED}:{sink}",
        f"bedrock-proxy: observability sink {sink} dropped {count} records ({total} since start): "
        "they will not reach it",
        sink=sink,
        count=count,
    )


def credentials_alert(sink: str, attempts: int) -> Alert:
    return Alert(
        SINK_CREDENTIALS,
        f"{SINK_CREDENTIALS}:{sink}",
        f"bedrock-proxy: observability sink {sink} refuses the gateway's credentials (HTTP 401/403,"
        f" {attempts} attempts): its records are kept and retried; fix the key and they are delivered",
        sink=sink,
        count=attempts,
    )


def shared_state_alert(store: str, reason: str, meanwhile: str) -> Alert:
    """The shared rate-limit store is down; `meanwhile` says what the gateway does until it answers."""
    return Alert(
        SHARED_STATE,
        f"{SHARED_STATE}:{store}",
        f"bedrock-proxy: the shared rate-limit store ({store}) is unreachable ({reason}); until it answers"
        f" again {meanwhile}",
    )


def soft_budget_alert(
    kind: str, name: str, spent: float, soft_budget: float, resets_at: float | None
) -> Alert:
    """A key's, team's or user's spend passed its soft_budget: calls still pass (max_budget refuses them)."""
    when = (
        f"; the period resets at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(resets_at))}"
        if resets_at is not None
        else ""
    )
    return Alert(
        SOFT_BUDGET,
        f"{SOFT_BUDGET}:{kind}:{name}:{resets_at}",
        f"bedrock-proxy: {kind} '{name}' has spent ${spent:.6f}, past its soft_budget of ${soft_budget:.6f}"
        f"{when}. Calls still pass until max_budget.",
    )
