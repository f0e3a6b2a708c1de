"""OpenAI's `chat.completion` and `chat.completion.chunk` wire dicts: the only place they are built.

The builders are plain functions that return fresh literal dicts (no copies, no models): they run once per
streamed delta on the hot path. Key order is part of what a client sees byte for byte, so each builder keeps
one order.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from bedrock_proxy.chat.answer import ChatAnswer
from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.chat.usage import Usage, total_usage
from bedrock_proxy.openai.usage import usage_to_openai


class _NoUsage(Enum):
    NO_USAGE = "no usage"


NO_USAGE: Final = _NoUsage.NO_USAGE  # `chunk(usage=NO_USAGE)`: the chunk has no "usage" key at all


def completion_id(request_id: str) -> str:
    return request_id if request_id.startswith("chatcmpl-") else f"chatcmpl-{request_id}"


def response_id(request_id: str) -> str:
    """The completion id of the request being served (the gateway's request id, prefixed)."""
    return f"chatcmpl-{request_id}"


def reissued(answer: dict[str, Any], new_id: str) -> dict[str, Any]:
    """A stored completion (a response cache hit) under this request's id, as a fresh answer would be."""
    return {**answer, "id": new_id}


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One entry of an assistant message's `tool_calls`."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant_message(
    content: str | None,
    tool_calls: list[dict[str, Any]] | None,
    reasoning: str | None,
    *,
    refusal: bool = True,
    thinking_blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The assistant message of a completion (`refusal` false: the shape observability records).
    `thinking_blocks` are LiteLLM's: the reasoning with its signatures, for the client to send back."""
    message: dict[str, Any] = (
        {"role": "assistant", "content": content, "refusal": None}
        if refusal
        else {"role": "assistant", "content": content}
    )
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
    return message


def thinking_block(part: ReasoningPart) -> dict[str, Any]:
    """One of LiteLLM's `thinking_blocks`: {type thinking, thinking, signature} or {type redacted_thinking,
    data}; sent back on the assistant message of the next turn, it reaches Bedrock unchanged."""
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def answer_message(answer: ChatAnswer, *, refusal: bool = True) -> dict[str, Any]:
    """The assistant message of one answer (`refusal` false: the shape observability records)."""
    calls = [tool_call(call.id, call.name, call.arguments) for call in answer.tool_calls]
    blocks = [thinking_block(part) for part in answer.reasoning_parts if part.signature or part.redacted]
    return assistant_message(answer.content, calls, answer.reasoning, refusal=refusal, thinking_blocks=blocks)


def completion_from_answers(
    request_id: str, created: int, model: str, answers: list[ChatAnswer], *, from_stream: bool = False
) -> dict[str, Any]:
    """The `chat.completion` of n answers (one per choice, indexed in order), their usage summed; `model` is
    the public name the client asked for.

    `from_stream`: the completion a finished stream amounts to, stored by the response cache. It has always
    had its keys in another order (system_fingerprint before choices, refusal last in the message); it keeps
    it so cached answers stay byte for byte what they were. JSON-wise the two are the same completion."""
    usage = usage_to_openai(
        answers[0].usage if len(answers) == 1 else total_usage(answer.usage for answer in answers)
    )
    if from_stream:
        choices = [
            _choice(index, {**answer_message(answer, refusal=False), "refusal": None}, answer.finish_reason)
            for index, answer in enumerate(answers)
        ]
        return {
            "id": completion_id(request_id),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": choices,
            "usage": usage,
        }
    choices = [
        _choice(index, answer_message(answer), answer.finish_reason) for index, answer in enumerate(answers)
    ]
    completion = {
        "id": completion_id(request_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": None,
    }
    if answers[0].service_tier is not None:
        completion["service_tier"] = answers[0].service_tier  # the tier Bedrock says served the call
    traces = [answer.guardrail_trace for answer in answers if answer.guardrail_trace is not None]
    if traces:
        completion["guardrail_trace"] = traces[0]  # Bedrock's trace.guardrail (docs/bedrock-features.md)
    return completion


def _choice(index: int, message: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def delta_choice(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def chunk(
    response_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | _NoUsage | None = NO_USAGE,
    system_fingerprint: str | None = None,
    service_tier: str | None = None,
) -> dict[str, Any]:
    """A `chat.completion.chunk`. `usage` None is the explicit null OpenAI sends on every chunk when the
    client asked for usage (stream_options.include_usage); left out, the chunk has no "usage" key.
    `service_tier`, when known, is on every chunk, as OpenAI sends it."""
    item: dict[str, Any] = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    if service_tier is not None:
        item["service_tier"] = service_tier
    item["system_fingerprint"] = system_fingerprint
    item["choices"] = choices
    if usage is not NO_USAGE:
        item["usage"] = usage
    return item


def tool_call_start(index: int, call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
    """A delta's `tool_calls` entry that opens call `index` (its id, type and name)."""
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def tool_call_arguments(index: int, arguments: str) -> dict[str, Any]:
    """A delta's `tool_calls` entry that carries more argument text for call `index`."""
    return {"index": index, "function": {"arguments": arguments}}


class ChunkRenderer:
    """OpenAI's chunks for one choice of a stream: the `StreamRenderer` a provider's stream translator
    drives. With `include_usage` every chunk carries "usage": null and the usage gets a chunk of its own.

    `service_tier` is the tier the call was sent with, known before Bedrock answers: it is on every chunk,
    and the last chunk carries the tier Bedrock reported (the caller leaves out a tier Bedrock may change,
    `reserved`, which overflows to standard). A guardrail's trace, which Bedrock sends last, comes in a last
    chunk of its own (no choices) when usage has none."""

    __slots__ = ("_created", "_id", "_include_usage", "_index", "_model", "_service_tier")

    def __init__(
        self,
        request_id: str,
        model: str,
        created: int,
        include_usage: bool,
        choice_index: int = 0,
        service_tier: str | None = None,
    ) -> None:
        self._id = completion_id(request_id)
        self._model = model
        self._created = created
        self._include_usage = include_usage
        self._index = choice_index
        self._service_tier = service_tier

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choices = [delta_choice(self._index, delta, finish_reason)]
        usage: dict[str, Any] | _NoUsage | None = None if self._include_usage else NO_USAGE
        return chunk(self._id, self._created, self._model, choices, usage, service_tier=self._service_tier)

    def start(self) -> dict[str, Any]:
        return self._chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> dict[str, Any]:
        return self._chunk({"content": text})

    def reasoning(self, text: str) -> dict[str, Any]:
        return self._chunk({"reasoning_content": text})

    def reasoning_signature(self, signature: str) -> dict[str, Any]:
        # LiteLLM's shape: the block's text came as reasoning_content deltas, its signature comes last
        block = {"type": "thinking", "thinking": "", "signature": signature}
        return self._chunk({"thinking_blocks": [block]})

    def redacted_reasoning(self, data: str) -> dict[str, Any]:
        return self._chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": data}]})

    def tool_start(self, position: int, call_id: str, name: str) -> dict[str, Any]:
        return self._chunk({"tool_calls": [tool_call_start(position, call_id, name)]})

    def tool_arguments(self, position: int, arguments: str) -> dict[str, Any]:
        return self._chunk({"tool_calls": [tool_call_arguments(position, arguments)]})

    def stop_sequence(self, sequence: str) -> None:
        return None  # the finish reason "stop" says it

    def finish(self, finish_reason: str) -> dict[str, Any]:
        return self._chunk({}, finish_reason)

    def usage(
        self, usage: Usage, service_tier: str | None = None, guardrail_trace: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if not self._include_usage and guardrail_trace is None:
            return None
        reported = usage_to_openai(usage) if self._include_usage else NO_USAGE
        item = chunk(
            self._id,
            self._created,
            self._model,
            [],
            reported,
            service_tier=service_tier or self._service_tier,
        )
        if guardrail_trace is not None:
            item["guardrail_trace"] = guardrail_trace
        return item
