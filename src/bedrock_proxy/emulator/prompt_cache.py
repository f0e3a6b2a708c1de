"""Prompt caching as Bedrock does it for Claude and Nova: the request up to each cachePoint (tools, then
system, then messages) is a cache prefix. The longest prefix already written within the TTL is read
(cacheReadInputTokens); what lies between it and the last cache point is written (cacheWriteInputTokens),
each stretch with the TTL of the cache point that ends it (cacheDetails). Prefixes under the model's minimum
(1,024 tokens for most models, 2,048 or 4,096 for some Claude: bedrock.capabilities) are not cached (Bedrock
ignores their cache points, without an error). A cache point's `ttl` is "5m" (the default) or "1h" (Claude
4.5 and later), and TTLs must not increase from tools to system to messages."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.emulator.conversation import Answer, Turn, count_input_tokens
from bedrock_proxy.emulator.errors import constraint, validation

MIN_CACHED_TOKENS = 1024
TTL_SECONDS = 300.0  # the default five minutes
_TTL_SECONDS = {"5m": TTL_SECONDS, "1h": 3600.0}


def cache_prefixes(body: dict[str, Any], model_id: str = "") -> list[tuple[str, int, str]]:
    """(key, tokens, ttl) of the request's prefix up to each of its cache points, shortest first; a
    ValidationException for a TTL Bedrock refuses."""
    tool_config = body.get("toolConfig")
    tools = tool_config.get("tools") or [] if isinstance(tool_config, dict) else []
    items: list[tuple[str, Any]] = [("tools", tool) for tool in tools]
    items += [("system", block) for block in body.get("system") or []]
    for index, message in enumerate(body.get("messages") or []):
        items += [(f"{index}:{message.get('role')}", block) for block in message.get("content") or []]
    prefixes = []
    previous = "1h"
    for end, (_, block) in enumerate(items):
        if isinstance(block, dict) and "cachePoint" in block:
            ttl = _ttl(block["cachePoint"], previous, model_id)
            previous = ttl
            prefix = items[:end]
            tokens = _tokens(prefix)
            if tokens >= _minimum(model_id):
                key = hashlib.blake2b(orjson.dumps(prefix), digest_size=16).hexdigest()
                prefixes.append((key, tokens, ttl))
    return prefixes


def _minimum(model_id: str) -> int:
    """The model's shortest cacheable prefix (bedrock.capabilities); MIN_CACHED_TOKENS when not named."""
    return capabilities_for(model_id).cache_min_tokens if model_id else MIN_CACHED_TOKENS


def _ttl(point: Any, previous: str, model_id: str) -> str:
    ttl = point.get("ttl", "5m") if isinstance(point, dict) else "5m"
    if ttl not in _TTL_SECONDS:
        raise constraint("cachePoint.ttl", ttl, "satisfy enum value set: [5m, 1h]")
    if ttl == "1h" and model_id and not capabilities_for(model_id).cache_1h:
        raise validation("The model does not support a 1h cache TTL; use 5m or remove the ttl.")
    if ttl == "1h" and previous == "5m":
        raise validation(
            "Cache point TTLs must not increase: a 1h cache point cannot follow a 5m one (tools, then system,"
            " then messages)."
        )
    return str(ttl)


def _tokens(prefix: list[tuple[str, Any]]) -> int:
    """The emulator's token estimate of a prefix, read as a request of its own."""
    partial: dict[str, Any] = {
        "toolConfig": {"tools": [block for where, block in prefix if where == "tools"]},
        "system": [block for where, block in prefix if where == "system"],
        "messages": [],
    }
    for where, block in prefix:
        if where in ("tools", "system"):
            continue
        if not partial["messages"] or partial["messages"][-1]["where"] != where:
            partial["messages"].append({"where": where, "content": []})
        partial["messages"][-1]["content"].append(block)
    return count_input_tokens(partial)


class PromptCache:
    """The prefixes written so far and until when they live (one emulator process)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def account(self, answer: Answer, turn: Turn) -> None:
        """Set the answer's cache read and write tokens (the writes per TTL), and keep every prefix of the
        turn alive for its TTL."""
        if not turn.cache_prefixes:
            return
        now = time.monotonic()
        read = max(
            (tokens for key, tokens, _ in turn.cache_prefixes if self._expiry.get(key, 0.0) > now), default=0
        )
        answer.cache_read = read
        answer.cache_write = turn.cache_prefixes[-1][1] - read
        start = read
        for _, tokens, ttl in turn.cache_prefixes:
            if tokens > start:
                if ttl == "1h":
                    answer.cache_write_1h += tokens - start
                start = tokens
        for key, _, ttl in turn.cache_prefixes:
            self._expiry[key] = max(self._expiry.get(key, 0.0), now + _TTL_SECONDS[ttl])
