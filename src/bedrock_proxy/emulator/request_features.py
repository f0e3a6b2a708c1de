"""Converse's request features as Bedrock checks and reports them: `serviceTier` and `performanceConfig`
(validated, then echoed in the response and the stream's metadata, as Bedrock reports the tier that served
the call) and `guardrailConfig` (validated; a `[[emu:fault=guardrail]]` marker intervenes only when one is
sent, since without a guardrail there is nothing to intervene; with `trace` enabled the response and the
stream's metadata carry Bedrock's `trace.guardrail` assessment: what the guardrail found in the input, and
for an answer it let through, in the output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bedrock_proxy.emulator.errors import constraint, malformed

_TIERS = ("priority", "default", "flex", "reserved")
_LATENCIES = ("standard", "optimized")
_TRACES = ("enabled", "disabled", "enabled_full")


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    service_tier: str | None = None
    latency: str | None = None
    guardrail: bool = False  # a guardrailConfig was sent
    guardrail_id: str = ""
    guardrail_trace: bool = False  # its trace is enabled (or enabled_full): the assessment is returned


def read_features(body: dict[str, Any]) -> RequestFeatures:
    """The request's features; a ValidationException in Bedrock's wording for a bad one."""
    tier = _enum(body.get("serviceTier"), "type", "serviceTier.type", _TIERS)
    latency = _enum(body.get("performanceConfig"), "latency", "performanceConfig.latency", _LATENCIES)
    guardrail = body.get("guardrailConfig")
    if guardrail is not None:
        if not isinstance(guardrail, dict):
            raise malformed()
        for key in ("guardrailIdentifier", "guardrailVersion"):
            value = guardrail.get(key)
            if not isinstance(value, str) or not value:
                raise constraint(f"guardrailConfig.{key}", value, "have length greater than or equal to 1")
        trace = guardrail.get("trace")
        if trace is not None and trace not in _TRACES:
            raise constraint(
                "guardrailConfig.trace", trace, f"satisfy enum value set: [{', '.join(_TRACES)}]"
            )
    if guardrail is None:
        return RequestFeatures(tier, latency)
    traced = guardrail.get("trace") in ("enabled", "enabled_full")
    return RequestFeatures(tier, latency, True, guardrail["guardrailIdentifier"], traced)


def _enum(value: Any, key: str, path: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise malformed()
    item = value.get(key)
    if item not in allowed:
        raise constraint(path, item, f"satisfy enum value set: [{', '.join(allowed)}]")
    return str(item)


def echoed(features: RequestFeatures, *, intervened: bool = False) -> dict[str, Any]:
    """What Bedrock adds to a response (and to the stream's metadata event) for these features."""
    fields: dict[str, Any] = {}
    if features.guardrail_trace:
        fields["trace"] = {"guardrail": guardrail_assessment(features.guardrail_id, intervened)}
    if features.service_tier is not None:
        fields["serviceTier"] = {"type": features.service_tier}
    if features.latency is not None:
        fields["performanceConfig"] = {"latency": features.latency}
    return fields


NO_FEATURES = RequestFeatures()


_BLOCKED_FILTER = {
    "type": "MISCONDUCT",
    "confidence": "HIGH",
    "filterStrength": "HIGH",
    "action": "BLOCKED",
    "detected": True,
}
_METRICS = {"guardrailProcessingLatency": 42}


def guardrail_assessment(guardrail_id: str, intervened: bool) -> dict[str, Any]:
    """Bedrock's GuardrailTraceAssessment: an intervention blocks the input (a content filter found
    misconduct); an answer let through was assessed on its input and its output, nothing found."""
    if intervened:
        return {
            "inputAssessment": {
                guardrail_id: {"contentPolicy": {"filters": [_BLOCKED_FILTER]}, "invocationMetrics": _METRICS}
            },
            "actionReason": "Guardrail blocked.",
        }
    return {
        "inputAssessment": {guardrail_id: {"invocationMetrics": _METRICS}},
        "outputAssessments": {guardrail_id: [{"invocationMetrics": _METRICS}]},
        "actionReason": "No action.",
    }
