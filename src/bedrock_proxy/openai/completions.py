"""OpenAI's `chat.completion` and `chat.completion.chunk` wire dicts: the only place they are built.

The builders are plain functions that return fresh literal dicts (no copies, no models): they run once per
streamed delta on the hot path. Key order is part of what a client sees byte for byte, so each builder keeps
one order.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.chat.usage import total_usage
from bedrock_proxy.openai.usage import usage_from_openai, usage_to_openai

NO_USAGE: Any = object()  # `chunk(usage=NO_USAGE)`: the chunk has no "usage" key at all


def completion_id(request_id: str) -> str:
    return request_id if request_id.startswith("chatcmpl-") else f"chatcmpl-{request_id}"


def tool_call(call_id: str, name: str, arguments: str) -> dict:
    """One entry of an assistant message's `tool_calls`."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant_message(
    content: str | None, tool_calls: list[dict] | None, reasoning: str | None, *, refusal: bool = True
) -> dict:
    """The assistant message of a completion (`refusal` false: the shape observability records)."""
    message: dict[str, Any] = (
        {"role": "assistant", "content": content, "refusal": None}
        if refusal
        else {"role": "assistant", "content": content}
    )
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def choice(index: int, message: dict, finish_reason: str | None) -> dict:
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def completion(response_id: str, created: int, model: str, choices: list[dict], usage: dict) -> dict:
    """A `chat.completion`; `model` is the public name the client asked for."""
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage,
        "system_fingerprint": None,
    }


def merge_choices(responses: list[dict]) -> dict:
    """One completion from n single-choice completions (n > 1): choices re-indexed, usage summed."""
    if not responses:
        raise ValueError("merge_choices needs at least one response")
    merged = dict(responses[0])
    choices = []
    for response in responses:
        for item in response["choices"]:
            choices.append({**item, "index": len(choices)})
    merged["choices"] = choices
    merged["usage"] = usage_to_openai(total_usage(usage_from_openai(r.get("usage")) for r in responses))
    return merged


def delta_choice(index: int, delta: dict, finish_reason: str | None = None) -> dict:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def chunk(
    response_id: str,
    created: int,
    model: str,
    choices: list[dict],
    usage: dict | None = NO_USAGE,
    system_fingerprint: str | None = None,
) -> dict:
    """A `chat.completion.chunk`. `usage` None is the explicit null OpenAI sends on every chunk when the
    client asked for usage (stream_options.include_usage); left out, the chunk has no "usage" key."""
    item = {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": system_fingerprint,
        "choices": choices,
    }
    if usage is not NO_USAGE:
        item["usage"] = usage
    return item


def tool_call_start(index: int, call_id: str, name: str, arguments: str = "") -> dict:
    """A delta's `tool_calls` entry that opens call `index` (its id, type and name)."""
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def tool_call_arguments(index: int, arguments: str) -> dict:
    """A delta's `tool_calls` entry that carries more argument text for call `index`."""
    return {"index": index, "function": {"arguments": arguments}}
