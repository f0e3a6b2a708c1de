"""Cached answers in and out of streams: a finished stream assembled into one `chat.completion` to store,
and a stored completion replayed as the SSE chunks a streaming client expects. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bedrock_proxy.chat.usage import total_usage
from bedrock_proxy.openai.usage import usage_to_openai


def completion_from_stream(
    response_id: str, model: str, created: int, translators: Sequence[Any]
) -> dict | None:
    """The `chat.completion` a finished stream amounts to; None when a choice did not finish."""
    if not translators or any(t.finish_reason is None for t in translators):
        return None
    choices = [
        {
            "index": index,
            "message": {**translator.output_message(), "refusal": None},
            "finish_reason": translator.finish_reason,
            "logprobs": None,
        }
        for index, translator in enumerate(translators)
    ]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage_to_openai(total_usage(translator.usage for translator in translators)),
    }


def stream_chunks(answer: dict, include_usage: bool) -> list[dict]:
    """Every chunk of `answer` replayed as a stream: per choice its role, its content (whole, in one
    delta), its tool calls and its finish; then the usage chunk when the client asked for it."""
    chunks: list[dict] = []

    def chunk(index: int, delta: dict, finish_reason: str | None = None) -> None:
        item: dict[str, Any] = {
            "id": answer.get("id"),
            "object": "chat.completion.chunk",
            "created": answer.get("created"),
            "model": answer.get("model"),
            "system_fingerprint": answer.get("system_fingerprint"),
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            item["usage"] = None
        chunks.append(item)

    for position, choice in enumerate(answer.get("choices") or []):
        index = choice.get("index", position)
        message = choice.get("message") or {}
        chunk(index, {"role": "assistant", "content": ""})
        if message.get("reasoning_content"):
            chunk(index, {"reasoning_content": message["reasoning_content"]})
        if message.get("content"):
            chunk(index, {"content": message["content"]})
        calls = message.get("tool_calls") or []
        if calls:
            chunk(
                index,
                {
                    "tool_calls": [
                        {
                            "index": n,
                            "id": call.get("id"),
                            "type": "function",
                            "function": dict(call.get("function") or {}),
                        }
                        for n, call in enumerate(calls)
                    ]
                },
            )
        chunk(index, {}, choice.get("finish_reason"))
    if include_usage:
        chunks.append(
            {
                "id": answer.get("id"),
                "object": "chat.completion.chunk",
                "created": answer.get("created"),
                "model": answer.get("model"),
                "system_fingerprint": answer.get("system_fingerprint"),
                "choices": [],
                "usage": answer.get("usage"),
            }
        )
    return chunks
