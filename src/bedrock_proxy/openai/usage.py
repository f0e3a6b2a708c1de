"""OpenAI's usage object <-> the gateway's Usage: the one converter each way."""

from __future__ import annotations

from typing import Any

from bedrock_proxy.chat.usage import Usage


def usage_to_openai(usage: Usage | None) -> dict[str, Any]:
    """OpenAI usage, details included; cache writes ride in LiteLLM's `cache_creation_input_tokens`."""
    if usage is None:
        usage = Usage()
    prompt_details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens}
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_write_tokens:  # cache writes are billed at their own rate, 5-minute and 1-hour apart
        out["cache_creation_input_tokens"] = usage.cache_write_tokens
        prompt_details |= {
            "cache_creation_tokens": usage.cache_write_tokens,
            "cache_creation_token_details": {  # LiteLLM's names for the split by TTL
                "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
            },
        }
    return out


def usage_from_openai(usage: dict[str, Any] | None) -> Usage:
    """The gateway's Usage from an OpenAI usage dict (a stored cached answer's)."""
    if not usage:
        return Usage()
    details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    by_ttl = details.get("cache_creation_token_details") or {}
    return Usage(
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        cache_read_tokens=details.get("cached_tokens", 0) or 0,
        cache_write_tokens=usage.get("cache_creation_input_tokens", 0) or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens", 0) or 0,
        cache_write_1h_tokens=by_ttl.get("ephemeral_1h_input_tokens", 0) or 0,
    )
