"""Prompt caching as Bedrock does it: the request up to each cachePoint (tools, then system, then messages)
is a cache prefix. The longest prefix already written within the TTL is read (cacheReadInputTokens); what
lies between it and the last cache point is written (cacheWriteInputTokens). Prefixes under Claude's
minimum of 1,024 tokens are not cached (Bedrock ignores their cache points, without an error)."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from bedrock_proxy.emulator.conversation import Answer, Turn, count_input_tokens

MIN_CACHED_TOKENS = 1024
TTL_SECONDS = 300.0  # the default five minutes


def cache_prefixes(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(key, tokens) of the request's prefix up to each of its cache points, shortest first."""
    tool_config = body.get("toolConfig")
    tools = tool_config.get("tools") or [] if isinstance(tool_config, dict) else []
    items: list[tuple[str, Any]] = [("tools", tool) for tool in tools]
    items += [("system", block) for block in body.get("system") or []]
    for index, message in enumerate(body.get("messages") or []):
        items += [(f"{index}:{message.get('role')}", block) for block in message.get("content") or []]
    prefixes = []
    for end, (_, block) in enumerate(items):
        if isinstance(block, dict) and "cachePoint" in block:
            prefix = items[:end]
            tokens = _tokens(prefix)
            if tokens >= MIN_CACHED_TOKENS:
                prefixes.append((hashlib.blake2b(orjson.dumps(prefix), digest_size=16).hexdigest(), tokens))
    return prefixes


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
        """Set the answer's cache read and write tokens, and keep every prefix of the turn alive."""
        if not turn.cache_prefixes:
            return
        now = time.monotonic()
        read = max(
            (tokens for key, tokens in turn.cache_prefixes if self._expiry.get(key, 0.0) > now), default=0
        )
        answer.cache_read = read
        answer.cache_write = turn.cache_prefixes[-1][1] - read
        for key, _ in turn.cache_prefixes:
            self._expiry[key] = now + TTL_SECONDS
