"""Prompt caching as Bedrock does it: the request up to its last cachePoint (tools, then system, then
messages) is a cache prefix; the first request with a prefix writes it (cacheWriteInputTokens), a later one
with the same prefix within the TTL reads it (cacheReadInputTokens). Prefixes under Claude's minimum of
1,024 tokens are not cached (Bedrock ignores their cache points, without an error)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from bedrock_proxy.emulator.conversation import Answer, Turn, count_input_tokens

MIN_CACHED_TOKENS = 1024
TTL_SECONDS = 300.0  # the default five minutes


def cache_prefix(body: dict[str, Any]) -> tuple[str, int] | None:
    """(key, tokens) of the request's prefix up to its last cachePoint, or None when nothing is cached."""
    tool_config = body.get("toolConfig")
    tools = tool_config.get("tools") or [] if isinstance(tool_config, dict) else []
    items: list[tuple[str, Any]] = [("tools", tool) for tool in tools]
    items += [("system", block) for block in body.get("system") or []]
    for index, message in enumerate(body.get("messages") or []):
        items += [(f"{index}:{message.get('role')}", block) for block in message.get("content") or []]
    last = max(
        (i for i, (_, block) in enumerate(items) if isinstance(block, dict) and "cachePoint" in block),
        default=None,
    )
    if last is None:
        return None
    prefix = items[:last]
    partial: dict[str, Any] = {
        "toolConfig": {"tools": [b for k, b in prefix if k == "tools"]},
        "system": [b for k, b in prefix if k == "system"],
        "messages": [],
    }
    for where, block in prefix:
        if where in ("tools", "system"):
            continue
        if not partial["messages"] or partial["messages"][-1]["key"] != where:
            partial["messages"].append({"key": where, "content": []})
        partial["messages"][-1]["content"].append(block)
    tokens = count_input_tokens(partial)
    if tokens < MIN_CACHED_TOKENS:
        return None
    return hashlib.blake2b(orjson.dumps(prefix), digest_size=16).hexdigest(), tokens


class PromptCache:
    """The prefixes written so far and until when they live (one emulator process)."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def account(self, answer: Answer, turn: Turn) -> None:
        """Set the answer's cache read or write tokens for the turn's prefix, and keep the prefix alive."""
        if turn.cache_prefix is None:
            return
        key, tokens = turn.cache_prefix
        now = time.monotonic()
        if self._expiry.get(key, 0.0) > now:
            answer.cache_read = tokens
        else:
            answer.cache_write = tokens
        self._expiry[key] = now + TTL_SECONDS
