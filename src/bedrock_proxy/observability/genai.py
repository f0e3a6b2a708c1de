"""A CallRecord as OpenTelemetry GenAI semantic-convention attributes (the inference and embeddings spans).

Names follow the current GenAI conventions (semantic-conventions-genai, the `gen_ai.*` registry):
`gen_ai.provider.name` is the provider, `gen_ai.usage.input_tokens` includes cache reads and writes (also
given on their own), messages use the spec's parts schema and are recorded as JSON strings, which the spec
allows on spans and every OTLP backend can show. The deprecated `gen_ai.system` is kept beside
`gen_ai.provider.name` for backends that still read it, unless OTEL_SEMCONV_STABILITY_OPT_IN names
`gen_ai_latest_experimental` (the spec's switch to the latest names only). Pure functions: tested by tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bedrock_proxy.observability.record import CallRecord

PROVIDER = "aws.bedrock"
LATEST_ONLY = "gen_ai_latest_experimental"

# the record's params (OpenAI names, as sent to Bedrock) -> the request attributes
PARAM_ATTRS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop": "gen_ai.request.stop_sequences",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "seed": "gen_ai.request.seed",
}

# OpenAI's and Anthropic's finish reasons -> the spec's (stop, length, content_filter, tool_call, error)
FINISH_REASONS = {
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "tool_use": "tool_call",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "refusal": "content_filter",
}


def latest_only(environ: Mapping[str, str]) -> bool:
    """OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental: no deprecated names."""
    values = environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    return LATEST_ONLY in {value.strip() for value in values.split(",")}


def operation_name(record: CallRecord) -> str:
    return "embeddings" if record.kind == "embedding" else "chat"


def span_name(record: CallRecord) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}`, the operation alone when no model is known."""
    operation = operation_name(record)
    return f"{operation} {record.model_group}" if record.model_group else operation


def finish_reason(reason: str) -> str:
    return FINISH_REASONS.get(reason, reason)


def error_type(record: CallRecord) -> str | None:
    """Low-cardinality: Bedrock's exception name or the gateway's error code, else the HTTP status."""
    if record.ok:
        return None
    return record.error_type or str(record.status)


def gen_ai_attributes(
    record: CallRecord, *, log_messages: bool, deprecated_names: bool = True
) -> dict[str, Any]:
    """The span's gen_ai.* attributes (None values are left out by the OTLP encoder)."""
    usage = record.usage
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(record),
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": record.model_group or None,
        "gen_ai.response.model": record.bedrock_model_id or None,
        "gen_ai.response.id": record.request_id,
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "error.type": error_type(record),
    }
    if deprecated_names:
        attrs["gen_ai.system"] = PROVIDER
    if record.kind == "embedding":
        attrs.update(_embedding_attributes(record))
        return attrs
    attrs["gen_ai.usage.output_tokens"] = usage.completion_tokens
    if usage.cache_read_tokens:
        attrs["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens:
        attrs["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
    if record.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = [finish_reason(record.finish_reason)]
    if record.stream:
        attrs["gen_ai.request.stream"] = True
        if record.first_token_time is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = max(
                record.first_token_time - record.start_time, 0.0
            )
    session = (record.metadata or {}).get("session_id")
    if isinstance(session, str) and session:
        attrs["gen_ai.conversation.id"] = session
    for key, name in PARAM_ATTRS.items():
        value = (record.params or {}).get(key)
        if value is not None:
            attrs[name] = _attribute_value(value, list_of_strings=key == "stop")
    if log_messages and record.input is not None:
        attrs["gen_ai.input.messages"] = _json(input_messages(record.input))
    if log_messages and record.output is not None:
        attrs["gen_ai.output.messages"] = _json(output_messages(record.output, record.finish_reason))
    return attrs


def _embedding_attributes(record: CallRecord) -> dict[str, Any]:
    params = record.params or {}
    output = record.output if isinstance(record.output, dict) else {}
    dimensions = output.get("dimensions") or params.get("dimensions")
    encoding = params.get("encoding_format")
    return {
        "gen_ai.embeddings.dimension.count": dimensions if isinstance(dimensions, int) else None,
        "gen_ai.request.encoding_formats": [encoding] if isinstance(encoding, str) else None,
    }


def _attribute_value(value: Any, *, list_of_strings: bool = False) -> Any:
    if list_of_strings:
        return [value] if isinstance(value, str) else [str(v) for v in value]
    return value if isinstance(value, (int, float, str, list)) else str(value)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


# ------------------------------------------------------------------ messages in the spec's parts schema
def input_messages(messages: Any) -> list[dict[str, Any]]:
    """What the client sent (OpenAI chat messages, Anthropic messages, a Responses input, or a masked
    string) as the spec's input messages: [{role, parts: [{type, ...}]}]."""
    if isinstance(messages, str):
        return [{"role": "user", "parts": [_text(messages)]}]
    if not isinstance(messages, list):
        return [{"role": "user", "parts": [_generic(messages)]}]
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, str):
            out.append({"role": "user", "parts": [_text(message)]})
        elif isinstance(message, dict):
            out.append(_input_message(message))
        else:
            out.append({"role": "user", "parts": [_generic(message)]})
    return out


def output_messages(output: Any, reason: str | None) -> list[dict[str, Any]]:
    """The answer (the assistant message the gateway records, or Anthropic content blocks) as the spec's
    output messages: one per choice, with its finish reason."""
    if isinstance(output, dict):
        message = _input_message({"role": "assistant", **output})
    elif isinstance(output, list):
        message = {"role": "assistant", "parts": _parts(output)}
    else:
        message = {
            "role": "assistant",
            "parts": [_text(output) if isinstance(output, str) else _generic(output)],
        }
    message["finish_reason"] = finish_reason(reason) if reason else "stop"
    return [message]


def _input_message(message: dict[str, Any]) -> dict[str, Any]:
    kind = message.get("type")
    if kind in ("function_call", "custom_tool_call"):  # Responses API items
        call = {"type": "tool_call", "id": message.get("call_id"), "name": message.get("name")}
        return {"role": "assistant", "parts": [{**call, "arguments": _arguments(message.get("arguments"))}]}
    if kind in ("function_call_output", "custom_tool_call_output"):
        result = {"type": "tool_call_response", "id": message.get("call_id")}
        return {"role": "tool", "parts": [{**result, "response": message.get("output")}]}
    role = str(message.get("role") or "user")
    parts: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"type": "reasoning", "content": reasoning})
    content = message.get("content")
    if role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": _flat(content)}
        )
    elif isinstance(content, str):
        parts.append(_text(content))
    elif isinstance(content, list):
        parts.extend(_parts(content))
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": _arguments(function.get("arguments")),
                }
            )
    out: dict[str, Any] = {"role": role, "parts": parts}
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    return out


def _parts(blocks: list[Any]) -> list[dict[str, Any]]:
    return [_part(block) for block in blocks]


def _part(block: Any) -> dict[str, Any]:
    """One content block of any client API as a spec part."""
    if isinstance(block, str):
        return _text(block)
    if not isinstance(block, dict):
        return _generic(block)
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text"):
        return _text(str(block.get("text", "")))
    if kind == "image_url":
        url = (block.get("image_url") or {}).get("url", "")
        if isinstance(url, str) and url.startswith("data:"):
            return {"type": "blob", "modality": "image", "mime_type": url[5:].split(";", 1)[0]}
        return {"type": "uri", "modality": "image", "uri": url}
    if kind == "image":  # Anthropic: base64 or url source; the bytes are never exported
        source = block.get("source") or {}
        if source.get("type") == "url":
            return {"type": "uri", "modality": "image", "uri": source.get("url")}
        return {"type": "blob", "modality": "image", "mime_type": source.get("media_type")}
    if kind == "tool_use":
        return {
            "type": "tool_call",
            "id": block.get("id"),
            "name": block.get("name"),
            "arguments": block.get("input"),
        }
    if kind == "tool_result":
        return {
            "type": "tool_call_response",
            "id": block.get("tool_use_id"),
            "response": _flat(block.get("content")),
        }
    if kind == "thinking":
        return {"type": "reasoning", "content": block.get("thinking")}
    return _generic(block)


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _generic(value: Any) -> dict[str, Any]:
    """A part the spec has no type for: its own type name, and the value as the client sent it."""
    kind = value.get("type") if isinstance(value, dict) else None
    return {"type": kind if isinstance(kind, str) else "unknown", "content": value}


def _flat(content: Any) -> Any:
    """A tool result's content: the text when it is only text blocks, else as sent."""
    if isinstance(content, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in content):
        return "".join(str(b.get("text", "")) for b in content)
    return content


def _arguments(arguments: Any) -> Any:
    """Tool-call arguments as an object when they are a JSON string (as OpenAI sends them)."""
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments
