"""Bedrock request features a request or its deployment turns on, as Converse fields: pure, tested by tables.

- `serviceTier` ({"type": priority | default | flex | reserved}) and `performanceConfig` ({"latency"}): the
  request's own value wins over the deployment's (litellm_params service_tier / performanceConfig).
- `guardrailConfig`: the deployment's, always (a client cannot choose or remove it).
- `cache_control_injection_points` (LiteLLM's automatic prompt caching): cache points added to the messages
  of a role, the message at an index, or after the tools, never where the client already put one, and never
  beyond Bedrock's four cache points a request.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bedrock_proxy.chat.request import CacheMark, ChatRequest, Message
from bedrock_proxy.config.schema import BedrockFeatures, CacheInjection

MAX_CACHE_POINTS = 4


def bedrock_features(
    request: ChatRequest, features: BedrockFeatures, params: dict[str, Any]
) -> dict[str, Any]:
    """The Converse fields for the service tier, latency and guardrail; `params` records what was sent."""
    fields: dict[str, Any] = {}
    tier = request.service_tier or features.service_tier
    if tier is not None:
        fields["serviceTier"] = {"type": tier}
        params["service_tier"] = tier
    latency = request.latency or features.latency
    if latency is not None:
        fields["performanceConfig"] = {"latency": latency}
        params["latency"] = latency
    if features.guardrail is not None:
        fields["guardrailConfig"] = dict(features.guardrail)
        params["guardrail"] = features.guardrail["guardrailIdentifier"]
    return fields


def inject_cache_points(
    request: ChatRequest, points: tuple[CacheInjection, ...]
) -> tuple[list[Message], CacheMark]:
    """The request's messages with the injected cache points (copies: the request is not changed, it may be
    translated again for a fallback), and the cache mark to put after the tools (False: none)."""
    messages = request.parsed_messages
    if not points:
        return messages, False
    used = _cache_points(request)
    marked = list(messages)
    tools_cache: CacheMark = False
    for point in points:
        if used >= MAX_CACHE_POINTS:
            break
        mark: CacheMark = point.ttl or True
        if point.location == "tool_config":
            tools = request.tools or []
            if tools and not tools[-1].cache and not tools_cache:
                tools_cache = mark
                used += 1
            continue
        for index in _targets(point, marked):
            if used >= MAX_CACHE_POINTS:
                break
            message = marked[index]
            if message.cache or any(part.cache for part in message.parts):
                continue  # the client's own cache point (and TTL) stays
            marked[index] = replace(message, cache=mark)
            used += 1
    return marked, tools_cache


def _targets(point: CacheInjection, messages: list[Message]) -> list[int]:
    if point.index is not None:
        index = point.index + len(messages) if point.index < 0 else point.index
        return [index] if 0 <= index < len(messages) else []
    return [i for i, message in enumerate(messages) if message.role == point.role]


def _cache_points(request: ChatRequest) -> int:
    """The cache points the client already asked for."""
    count = sum(1 for tool in request.tools or [] if tool.cache)
    for message in request.parsed_messages:
        count += bool(message.cache) + sum(1 for part in message.parts if part.cache)
    return count


def strip_cache_ttls(body: dict[str, Any]) -> bool:
    """Remove `ttl` from every cachePoint of a Converse body (a model without one-hour caching gets the
    default five minutes); True when one was removed."""
    stripped = False
    tool_config = body.get("toolConfig") or {}
    blocks: list[Any] = [*(tool_config.get("tools") or []), *(body.get("system") or [])]
    for message in body.get("messages") or []:
        blocks.extend(message.get("content") or [])
    for block in blocks:
        point = block.get("cachePoint") if isinstance(block, dict) else None
        if isinstance(point, dict) and "ttl" in point:
            del point["ttl"]
            stripped = True
    return stripped
