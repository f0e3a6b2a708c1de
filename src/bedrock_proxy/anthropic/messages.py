"""Anthropic's `message` object and its stream events: the only place they are built.

`message_from_answer` renders a finished ChatAnswer; `MessageStreamRenderer` is the StreamRenderer a
provider's stream translator drives, returning each delta's events already framed as SSE bytes.

The finish reason ("stop", "length", "tool_calls", "content_filter") becomes Anthropic's stop_reason
(end_turn or stop_sequence, max_tokens, tool_use, refusal). Usage: Anthropic's `input_tokens` counts only
the tokens that were neither read from nor written to the prompt cache; those two are apart.
"""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_proxy.anthropic.sse import encode_event
from bedrock_proxy.chat.answer import ChatAnswer
from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.chat.usage import Usage

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def message_id(request_id: str) -> str:
    """The message id of the request being served (the gateway's request id, prefixed as Anthropic's)."""
    return f"msg_{request_id}"


def stop_reason(finish_reason: str | None, stop_sequence: str | None = None) -> str | None:
    if finish_reason is None:
        return None
    if finish_reason == "stop" and stop_sequence is not None:
        return "stop_sequence"
    return _STOP_REASONS.get(finish_reason, "end_turn")


def finish_reason_of(stop: str | None) -> str | None:
    """The gateway's finish reason for an Anthropic stop_reason (a stored message read back)."""
    if stop is None:
        return None
    return {"max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter"}.get(stop, "stop")


# Bedrock's service tiers -> Anthropic's usage.service_tier ("standard" | "priority" | "batch"); flex and
# reserved have no Anthropic name and are left out rather than misnamed
_ANTHROPIC_TIERS = {"default": "standard", "priority": "priority"}


def usage_to_anthropic(usage: Usage | None, service_tier: str | None = None) -> dict[str, Any]:
    """Anthropic's usage; the cache writes also split by TTL (`cache_creation`) when some were one-hour, and
    the tier that served the call (`service_tier`) when Bedrock reported one Anthropic has a name for."""
    usage = usage or Usage()
    out: dict[str, Any] = {
        "input_tokens": max(usage.prompt_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.cache_write_1h_tokens:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    tier = _ANTHROPIC_TIERS.get(service_tier or "")
    if tier is not None:
        out["service_tier"] = tier
    return out


def reasoning_block(part: ReasoningPart) -> dict[str, Any]:
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def content_blocks(answer: ChatAnswer) -> list[dict[str, Any]]:
    """Reasoning first, then the text, then the tool calls: the order Claude answers in."""
    blocks = [reasoning_block(part) for part in answer.reasoning_parts]
    if not blocks and answer.reasoning:
        blocks.append({"type": "thinking", "thinking": answer.reasoning, "signature": ""})
    if answer.content:
        blocks.append({"type": "text", "text": answer.content})
    for call in answer.tool_calls:
        try:
            arguments = orjson.loads(call.arguments) if call.arguments else {}
        except orjson.JSONDecodeError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def message_from_answer(answer: ChatAnswer, msg_id: str, model: str) -> dict[str, Any]:
    """The `message` for one answer; `model` is the name the client asked for."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(answer),
        "stop_reason": stop_reason(answer.finish_reason, answer.stop_sequence),
        "stop_sequence": answer.stop_sequence,
        "usage": usage_to_anthropic(answer.usage, answer.service_tier),
        **({"guardrail_trace": answer.guardrail_trace} if answer.guardrail_trace is not None else {}),
    }


def model_list(names: list[str], created_at: str) -> dict[str, Any]:
    """GET /v1/models as Anthropic answers it (one page: the gateway's model names)."""
    data = [{"type": "model", "id": name, "display_name": name, "created_at": created_at} for name in names]
    return {
        "data": data,
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }


class MessageStreamRenderer:
    """Anthropic's events for one streamed answer, as SSE bytes (b"" when a delta sends nothing).

    Keeps which content block is open: a delta of another kind closes it and opens the next index. Converse
    reports usage after the stop reason, Anthropic before message_stop: the stop reason waits for the usage
    (`usage`), or for `end` when a stream ends without it.
    """

    __slots__ = (
        "_done",
        "_id",
        "_index",
        "_input_tokens",
        "_kind",
        "_model",
        "_stop_reason",
        "_stop_sequence",
    )

    def __init__(self, msg_id: str, model: str, input_tokens: int = 0) -> None:
        self._id = msg_id
        self._model = model
        self._input_tokens = input_tokens  # an estimate for message_start; message_delta has the real count
        self._index = -1  # the open block's index
        self._kind: str | None = None  # the open block's type, None when no block is open
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._done = False

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._input_tokens,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        return encode_event({"type": "message_start", "message": message})

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        closing = self._close()
        self._index += 1
        self._kind = kind
        return closing + encode_event(
            {"type": "content_block_start", "index": self._index, "content_block": block}
        )

    def _close(self) -> bytes:
        if self._kind is None:
            return b""
        self._kind = None
        return encode_event({"type": "content_block_stop", "index": self._index})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return encode_event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def text(self, text: str) -> bytes:
        opened = b"" if self._kind == "text" else self._open("text", {"type": "text", "text": ""})
        return opened + self._delta({"type": "text_delta", "text": text})

    def reasoning(self, text: str) -> bytes:
        opened = (
            b""
            if self._kind == "thinking"
            else self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        )
        return opened + self._delta({"type": "thinking_delta", "thinking": text})

    def reasoning_signature(self, signature: str) -> bytes:
        opened = (
            b""
            if self._kind == "thinking"
            else self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        )
        return opened + self._delta({"type": "signature_delta", "signature": signature})

    def redacted_reasoning(self, data: str) -> bytes:
        return self._open("redacted_thinking", {"type": "redacted_thinking", "data": data})

    def tool_start(self, position: int, call_id: str, name: str) -> bytes:
        return self._open("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}})

    def tool_arguments(self, position: int, arguments: str) -> bytes:
        return self._delta({"type": "input_json_delta", "partial_json": arguments})

    def stop_sequence(self, sequence: str) -> None:
        self._stop_sequence = sequence  # said in message_delta

    def finish(self, finish_reason: str) -> bytes:
        self._stop_reason = stop_reason(finish_reason, self._stop_sequence)
        return self._close()

    def usage(
        self, usage: Usage, service_tier: str | None = None, guardrail_trace: dict[str, Any] | None = None
    ) -> bytes:
        return self._end(usage_to_anthropic(usage, service_tier), guardrail_trace)

    def end(self) -> bytes:
        """What is still owed when the upstream stream ended without usage (or without a stop reason)."""
        if self._done:
            return b""
        usage = usage_to_anthropic(None)
        usage["input_tokens"] = self._input_tokens
        return self._close() + self._end(usage)

    def _end(self, usage: dict[str, Any], guardrail_trace: dict[str, Any] | None = None) -> bytes:
        """message_delta (with the guardrail's trace, the gateway's extra field, when there is one), then
        message_stop."""
        if self._done:
            return b""
        self._done = True
        delta = {"stop_reason": self._stop_reason or "end_turn", "stop_sequence": self._stop_sequence}
        event: dict[str, Any] = {"type": "message_delta", "delta": delta, "usage": usage}
        if guardrail_trace is not None:
            event["guardrail_trace"] = guardrail_trace
        return encode_event(event) + encode_event({"type": "message_stop"})
