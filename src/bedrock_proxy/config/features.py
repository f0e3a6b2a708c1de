"""A deployment's Bedrock request features (litellm_params) -> BedrockFeatures; each mistake named by key.

The keys are the ones LiteLLM users already write: `service_tier`, `performanceConfig` ({latency}),
`guardrailConfig` (Bedrock's own keys: guardrailIdentifier, guardrailVersion, trace) and
`cache_control_injection_points` (LiteLLM's list of {location, role | index, control}).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bedrock_proxy.config.coerce import describe
from bedrock_proxy.config.issues import IssueLog, child
from bedrock_proxy.config.schema import (
    CACHE_TTLS,
    GUARDRAIL_TRACES,
    LATENCIES,
    SERVICE_TIERS,
    BedrockFeatures,
    CacheInjection,
)

FEATURE_PARAMS = ("service_tier", "performanceConfig", "guardrailConfig", "cache_control_injection_points")
_ROLES = ("system", "user", "assistant")
_MAX_CACHE_POINTS = 4  # Bedrock (and Anthropic) take at most four cache points a request


def read_feature(
    features: BedrockFeatures, key: str, value: Any, path: str, log: IssueLog
) -> BedrockFeatures:
    """`features` with litellm_params `key` applied; an invalid value is an error at `path`, and ignored."""
    if key == "service_tier":
        tier = _choice(value, SERVICE_TIERS, path, log)
        return features if tier is None else replace(features, service_tier=tier)
    if key == "performanceConfig":
        if not isinstance(value, dict) or set(value) - {"latency"}:
            log.error(path, f"expected {{latency: standard | optimized}}, got {describe(value)}")
            return features
        latency = _choice(value.get("latency"), LATENCIES, child(path, "latency"), log)
        return features if latency is None else replace(features, latency=latency)
    if key == "guardrailConfig":
        guardrail = _guardrail(value, path, log)
        return features if guardrail is None else replace(features, guardrail=guardrail)
    points = _injection_points(value, path, log)
    return features if points is None else replace(features, cache_injection=points)


def _choice(value: Any, allowed: tuple[str, ...], path: str, log: IssueLog) -> str | None:
    if isinstance(value, str) and value in allowed:
        return value
    log.error(path, f"expected one of {', '.join(allowed)}, got {describe(value)}")
    return None


def _guardrail(value: Any, path: str, log: IssueLog) -> dict[str, str] | None:
    if not isinstance(value, dict):
        log.error(
            path, f"expected a mapping with guardrailIdentifier and guardrailVersion, got {describe(value)}"
        )
        return None
    guardrail: dict[str, str] = {}
    for key in ("guardrailIdentifier", "guardrailVersion"):
        item = value.get(key)
        if isinstance(item, int) and not isinstance(item, bool) and key == "guardrailVersion":
            item = str(item)  # `guardrailVersion: 1` in YAML is the version "1"
        if not isinstance(item, str) or not item.strip():
            log.error(
                child(path, key),
                f"is required: the guardrail's {'id or ARN' if key == 'guardrailIdentifier' else 'version'}"
                f" (a string), got {describe(item)}",
            )
            return None
        guardrail[key] = item.strip()
    trace = value.get("trace")
    if trace is not None:
        checked = _choice(trace, GUARDRAIL_TRACES, child(path, "trace"), log)
        if checked is None:
            return None
        guardrail["trace"] = checked
    for key in value:
        if key not in ("guardrailIdentifier", "guardrailVersion", "trace"):
            log.warning(child(path, str(key)), "unknown guardrailConfig key, ignored")
    return guardrail


def _injection_points(value: Any, path: str, log: IssueLog) -> tuple[CacheInjection, ...] | None:
    if not isinstance(value, list):
        log.error(
            path, f"expected a list of {{location: message, role: system}} entries, got {describe(value)}"
        )
        return None
    points: list[CacheInjection] = []
    for index, item in enumerate(value):
        point = _injection_point(item, f"{path}[{index}]", log)
        if point is None:
            return None
        points.append(point)
    if len(points) > _MAX_CACHE_POINTS:
        log.warning(
            path,
            f"more than {_MAX_CACHE_POINTS} points: Bedrock takes {_MAX_CACHE_POINTS}, the rest are skipped",
        )
    return tuple(points)


def _injection_point(item: Any, path: str, log: IssueLog) -> CacheInjection | None:
    if not isinstance(item, dict):
        log.error(
            path, f"expected a mapping such as {{location: message, role: system}}, got {describe(item)}"
        )
        return None
    location = item.get("location")
    valid, ttl = _ttl(item.get("control"), child(path, "control"), log)
    if not valid:
        return None
    if location == "tool_config":
        return CacheInjection("tool_config", ttl=ttl)
    if location != "message":
        log.error(child(path, "location"), f"expected message or tool_config, got {describe(location)}")
        return None
    role, position = item.get("role"), item.get("index")
    if isinstance(position, str):
        position = int(position) if position.lstrip("-").isdigit() else position
    if position is not None:
        if isinstance(position, bool) or not isinstance(position, int):
            log.error(
                child(path, "index"), f"expected a message index such as 0 or -1, got {describe(position)}"
            )
            return None
        return CacheInjection("message", index=position, ttl=ttl)
    if role not in _ROLES:
        log.error(
            child(path, "role"), f"expected one of {', '.join(_ROLES)} (or an index), got {describe(role)}"
        )
        return None
    return CacheInjection("message", role=role, ttl=ttl)


def _ttl(control: Any, path: str, log: IssueLog) -> tuple[bool, str | None]:
    """(valid, TTL) of a `control` ({type: ephemeral, ttl}); TTL None: the default."""
    if control is None:
        return True, None
    if not isinstance(control, dict) or control.get("type", "ephemeral") != "ephemeral":
        log.error(
            path, f"expected {{type: ephemeral}} (with an optional ttl: 5m | 1h), got {describe(control)}"
        )
        return False, None
    ttl = control.get("ttl")
    if ttl is None:
        return True, None
    if ttl not in CACHE_TTLS:
        log.error(child(path, "ttl"), f"expected 5m or 1h, got {describe(ttl)}")
        return False, None
    return True, str(ttl)
