"""Usage: the tokens one answer took, in the gateway's own terms (no client API's field names).

The one shape of usage: Converse usage is read into it (`bedrock.translate.usage_from_converse`), each
client API renders it (`openai.usage.usage_to_openai`), and CallRecord, pricing and limits read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0  # every input token, cache reads and writes included
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # of completion_tokens, spent on reasoning. Bedrock does not count them apart: they are estimated from
    # the reasoning text (`estimate_tokens`), at most the completion tokens.
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0  # of cache_write_tokens, written with a one-hour TTL (priced apart)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )


def total_usage(usages: Iterable[Usage | None]) -> Usage:
    """Several answers' usage as one (n > 1 choices, a stream's choices); None counts as nothing."""
    total = Usage()
    for usage in usages:
        if usage is not None:
            total = total + usage
    return total


def estimate_tokens(text: str) -> int:
    """A token estimate of a text (about four characters a token), for counts a provider does not give."""
    return (len(text) + 3) // 4
