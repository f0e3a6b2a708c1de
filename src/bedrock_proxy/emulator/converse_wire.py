"""Converse and ConverseStream on the wire: the JSON body and the event sequence for an `Answer`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from bedrock_proxy.emulator.conversation import Answer
from bedrock_proxy.emulator.textgen import split_deltas

_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TOOL_DELTA_CHARS = 12


def padding(index: int) -> str:
    """The `p` field real Bedrock adds to event payloads (its length hides the content's length)."""
    return _PADDING[: 1 + (index * 7) % len(_PADDING)]


def usage(answer: Answer) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "inputTokens": answer.input_tokens - answer.cache_read - answer.cache_write,
        "outputTokens": answer.output_tokens,
        "totalTokens": answer.input_tokens + answer.output_tokens,
        "cacheReadInputTokens": answer.cache_read,
        "cacheWriteInputTokens": answer.cache_write,
    }
    if answer.cache_write:  # the writes per TTL, as Bedrock details them
        details = [("5m", answer.cache_write - answer.cache_write_1h), ("1h", answer.cache_write_1h)]
        counts["cacheDetails"] = [{"ttl": ttl, "inputTokens": n} for ttl, n in details if n]
    return counts


def converse_body(answer: Answer, latency_ms: int) -> bytes:
    body = {
        "output": {"message": {"role": "assistant", "content": answer.blocks}},
        "stopReason": answer.stop_reason,
        "usage": usage(answer),
        "metrics": {"latencyMs": latency_ms},
    }
    if answer.stop_sequence is not None:
        body["additionalModelResponseFields"] = {"stop_sequence": answer.stop_sequence}
    body.update(answer.echo)
    return orjson.dumps(body)


def tool_input_pieces(arguments: dict[str, Any]) -> list[str]:
    """The tool input JSON split across several deltas (at least two), as Bedrock streams it."""
    text = orjson.dumps(arguments).decode()
    size = max(1, min(_TOOL_DELTA_CHARS, (len(text) + 1) // 2))
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_events(answer: Answer) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(event type, payload, is_delta) in Bedrock's order; the caller adds `p`, timing and faults."""
    yield "messageStart", {"role": "assistant"}, False
    for index, block in enumerate(answer.blocks):
        if "toolUse" in block:
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            yield "contentBlockStart", {"contentBlockIndex": index, "start": start}, False
            for piece in tool_input_pieces(tool["input"]):
                yield (
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}},
                    True,
                )
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            for piece in split_deltas(reasoning["text"]):
                delta = {"reasoningContent": {"text": piece}}
                yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, True
            delta = {"reasoningContent": {"signature": reasoning["signature"]}}
            yield "contentBlockDelta", {"contentBlockIndex": index, "delta": delta}, False
        else:
            for piece in split_deltas(block.get("text", "")):
                yield "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}, True
        yield "contentBlockStop", {"contentBlockIndex": index}, False
    stop: dict[str, Any] = {"stopReason": answer.stop_reason}
    if answer.stop_sequence is not None:
        stop["additionalModelResponseFields"] = {"stop_sequence": answer.stop_sequence}
    yield "messageStop", stop, False


def metadata_event(answer: Answer, latency_ms: int) -> dict[str, Any]:
    return {"usage": usage(answer), "metrics": {"latencyMs": latency_ms}, **answer.echo}
