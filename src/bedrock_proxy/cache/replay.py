"""Cached answers in and out of streams: a finished stream assembled into one `chat.completion` to store,
and a stored completion replayed as the SSE chunks a streaming client expects. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bedrock_proxy.chat.answer import ChatAnswer
from bedrock_proxy.openai.completions import (
    NO_USAGE,
    chunk,
    completion_from_answers,
    delta_choice,
    tool_call_start,
)


class StreamedChoice(Protocol):
    """One choice of a stream as its translator (bedrock.streaming.StreamTranslator) assembles it."""

    @property
    def finish_reason(self) -> str | None: ...

    def answer(self) -> ChatAnswer: ...


def completion_from_stream(
    response_id: str, model: str, created: int, translators: Sequence[StreamedChoice]
) -> dict[str, Any] | None:
    """The `chat.completion` a finished stream amounts to; None when a choice did not finish."""
    if not translators or any(t.finish_reason is None for t in translators):
        return None
    answers = [translator.answer() for translator in translators]
    return completion_from_answers(response_id, created, model, answers, from_stream=True)


def stream_chunks(answer: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """Every chunk of `answer` replayed as a stream: per choice its role, its content (whole, in one
    delta), its tool calls and its finish; then the usage chunk when the client asked for it. `answer` is a
    completion the gateway built (completion_from_answers, under this request's id): id, created, model and
    each tool call's id, name and arguments are always there."""
    chunks: list[dict[str, Any]] = []
    response_id, created, model = answer["id"], answer["created"], answer["model"]
    fingerprint = answer.get("system_fingerprint")
    null_usage = None if include_usage else NO_USAGE

    def add(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        choices = [delta_choice(index, delta, finish_reason)]
        chunks.append(chunk(response_id, created, model, choices, null_usage, fingerprint))

    for position, item in enumerate(answer.get("choices") or []):
        index = item.get("index", position)
        message = item.get("message") or {}
        add(index, {"role": "assistant", "content": ""})
        if message.get("reasoning_content"):
            add(index, {"reasoning_content": message["reasoning_content"]})
        if message.get(
            "thinking_blocks"
        ):  # the signed blocks a client sends back, as a live stream ends them
            add(index, {"thinking_blocks": message["thinking_blocks"]})
        if message.get("content"):
            add(index, {"content": message["content"]})
        calls = message.get("tool_calls") or []
        if calls:
            starts = []
            for n, call in enumerate(calls):
                function = call["function"]
                starts.append(tool_call_start(n, call["id"], function["name"], function["arguments"]))
            add(index, {"tool_calls": starts})
        add(index, {}, item.get("finish_reason"))
    if include_usage:
        chunks.append(chunk(response_id, created, model, [], answer.get("usage"), fingerprint))
    return chunks
