"""Deterministic "model" output: a reply derived from the prompt and a token estimate used everywhere.

The same prompt always gives the same reply, so tests and caches can rely on it; usage counts, CountTokens,
context-window checks and maxTokens cuts all use the one estimate (about four characters per token).
"""

from __future__ import annotations

from dataclasses import dataclass

_LEAD = ("Emulated", "answer:")
_MAX_ECHO_WORDS = 40


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def reply_text(prompt: str, words: int | None = None) -> str:
    """A short reply that restates the prompt; exactly `words` words when asked."""
    echoed = prompt.split()[:_MAX_ECHO_WORDS]
    base = [*_LEAD, *echoed] if echoed else [*_LEAD, "hello."]
    if words is None:
        return " ".join(base)
    return " ".join(base[i % len(base)] for i in range(words))


@dataclass(frozen=True, slots=True)
class Completion:
    """Generated text after maxTokens and stop sequences, with why it stopped."""

    text: str
    stop_reason: str  # end_turn | max_tokens | stop_sequence
    stop_sequence: str | None = None

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def complete(text: str, max_tokens: int | None, stop_sequences: list[str] | None) -> Completion:
    """Apply stop sequences (earliest wins), then the maxTokens budget."""
    stop_reason, matched = "end_turn", None
    if stop_sequences:
        cut = len(text)
        for sequence in stop_sequences:
            position = text.find(sequence) if sequence else -1
            if 0 <= position < cut:
                cut, matched = position, sequence
        if matched is not None:
            text, stop_reason = text[:cut].rstrip(), "stop_sequence"
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        budget = max_tokens * 4
        clipped = text[:budget]
        if " " in clipped and len(text) > budget and text[budget] != " ":
            clipped = clipped.rsplit(" ", 1)[0]
        return Completion(clipped.rstrip() or text[:budget], "max_tokens")
    return Completion(text, stop_reason, matched)


def split_deltas(text: str, words_per_delta: int = 2) -> list[str]:
    """Stream pieces whose concatenation is exactly `text` (each keeps its trailing space)."""
    if not text:
        return []
    pieces, current, count = [], [], 0
    for token in text.split(" "):
        current.append(token)
        count += 1
        if count == words_per_delta:
            pieces.append(" ".join(current) + " ")
            current, count = [], 0
    if current:
        pieces.append(" ".join(current) + " ")
    pieces[-1] = pieces[-1][:-1]  # the last piece has no trailing space
    if not pieces[-1]:
        pieces.pop()
    return pieces
