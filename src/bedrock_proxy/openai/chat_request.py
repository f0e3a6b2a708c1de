"""OpenAI's chat completions body parsed into the gateway's ChatRequest: every client mistake is a 400 naming
the field to change.

Parsing is independent of the model; what a given Bedrock model accepts is decided later in `translate`.
Unknown top-level keys are ignored (OpenAI SDKs send extras); the raw body stays available as `.body`.
OpenAI's own spellings end here: developer messages become system, function messages tool, refusal parts
text, and tool_choice a ToolChoice.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from bedrock_proxy.chat.depth import MAX_JSON_DEPTH, depth_message, nesting_beyond
from bedrock_proxy.chat.request import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    RemoteImagePart,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolDef,
    sniff_image,
)
from bedrock_proxy.errors import GatewayError, invalid_request
from bedrock_proxy.openai.chat_features import (
    cache_mark,
    parse_latency,
    parse_reasoning_effort,
    parse_service_tier,
    parse_thinking,
    parse_thinking_blocks,
    refuse_request_guardrail,
)

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Integers travel to Bedrock as JSON: beyond a signed 64-bit range no encoder writes them
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
IMAGE_MIME = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


# ----------------------------------------------------------------------------------------------------------
# Small validators: each raises a 400 naming the param and saying what to send instead.


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wrong_type(param: str, expected: str, value: object) -> GatewayError:
    return invalid_request(f"'{param}' must be {expected}, got {type_name(value)}.", param)


def _opt_int(body: dict[str, Any], key: str, low: int | None = None, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(key, "an integer", value)
    _check_range(key, value, low, high)
    if not INT64_MIN <= value <= INT64_MAX:
        raise invalid_request(f"'{key}' is out of range: send an integer below 2**63, got {value:.3g}.", key)
    return value


def _opt_number(
    body: dict[str, Any], key: str, low: float | None = None, high: float | None = None
) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(key, "a number", value)
    _check_range(key, value, low, high)
    return value


def _check_range(key: str, value: float, low: float | None, high: float | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else f"at least {low}"
        raise invalid_request(f"'{key}' must be {bounds}, got {value}.", key)


def _opt_bool(body: dict[str, Any], key: str, param: str | None = None) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _wrong_type(param or key, "true or false", value)


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _wrong_type(key, "a string", value)


# ----------------------------------------------------------------------------------------------------------
# parse_chat_request


def parse_chat_request(body: object, max_depth: int = MAX_JSON_DEPTH) -> ChatRequest:
    """Check an OpenAI chat completions body; unknown top-level keys are ignored (SDKs send extras).

    `max_depth` bounds the nesting of JSON carried inside strings (tool-call arguments); the body's own
    nesting is checked when it is read."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object with 'model' and 'messages'.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("'model' is required: send the model name as a non-empty string.", "model")
    for legacy, modern in (("functions", "tools"), ("function_call", "tool_choice")):
        if body.get(legacy) is not None:
            raise invalid_request(
                f"'{legacy}' is deprecated and not supported: send '{modern}' instead "
                '(tools: [{"type": "function", "function": {...}}]).',
                legacy,
            )
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise invalid_request(
            "'messages' is required: send a non-empty array of {role, content} messages.", "messages"
        )
    messages = [_parse_message(i, m, max_depth) for i, m in enumerate(raw_messages)]

    req = ChatRequest(body=body, model=model, messages=raw_messages, parsed_messages=messages)
    req.stream = bool(_opt_bool(body, "stream"))
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise _wrong_type("stream_options", 'an object such as {"include_usage": true}', options)
        req.include_usage = bool(_opt_bool(options, "include_usage", "stream_options.include_usage"))
    req.n = _opt_int(body, "n", 1, 8) or 1
    max_tokens = _opt_int(body, "max_tokens", 1)
    max_completion = _opt_int(body, "max_completion_tokens", 1)
    req.max_tokens = max_completion if max_completion is not None else max_tokens
    req.temperature = _opt_number(body, "temperature", 0, 2)
    req.top_p = _opt_number(body, "top_p", 0, 1)
    req.top_k = _opt_int(body, "top_k", 0)
    req.stop = parse_stop(body.get("stop"))
    req.presence_penalty = _opt_number(body, "presence_penalty", -2, 2)
    req.frequency_penalty = _opt_number(body, "frequency_penalty", -2, 2)
    logit_bias = body.get("logit_bias")
    if logit_bias is not None and not isinstance(logit_bias, dict):
        raise _wrong_type("logit_bias", "an object of token id -> bias", logit_bias)
    req.logit_bias = logit_bias
    req.logprobs = bool(_opt_bool(body, "logprobs"))
    req.top_logprobs = _opt_int(body, "top_logprobs", 0, 20)
    req.seed = _opt_int(body, "seed")
    req.user = _opt_str(body, "user")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _wrong_type("metadata", "an object", metadata)
    req.metadata = metadata or {}
    req.tools = _parse_tools(body.get("tools"))
    req.tool_choice = _parse_tool_choice(body.get("tool_choice"), req.tools)
    req.parallel_tool_calls = _opt_bool(body, "parallel_tool_calls")
    req.response_format, req.json_schema_name, req.json_schema = _parse_response_format(
        body.get("response_format")
    )
    effort = parse_reasoning_effort(body.get("reasoning_effort"))
    req.reasoning = parse_thinking(body.get("thinking"), effort) or effort
    req.service_tier = parse_service_tier(body)
    req.latency = parse_latency(body)
    refuse_request_guardrail(body)
    return req


def parse_stop(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _wrong_type("stop", "a string or an array of up to 4 strings", value)
    if len(value) > 4:
        raise invalid_request(f"'stop' takes at most 4 sequences, got {len(value)}: remove some.", "stop")
    return [s for s in value if s] or None


def _parse_message(i: int, raw: object, max_depth: int) -> Message:
    p = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise _wrong_type(p, "an object with 'role' and 'content'", raw)
    role = raw.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        shown = repr(role) if isinstance(role, str) else type_name(role)
        raise invalid_request(
            f"'{p}.role' must be one of system, developer, user, assistant, tool; got {shown[:80]}.",
            f"{p}.role",
        )
    cache = cache_mark(raw.get("cache_control"), f"{p}.cache_control")
    content = raw.get("content")
    if role in ("system", "developer"):
        return Message("system", _text_parts(content, p, required=True), p, cache=cache)
    if role == "user":
        return Message("user", _user_parts(content, p), p, cache=cache)
    if role == "assistant":
        thinking: list[Part] = [*parse_thinking_blocks(raw.get("thinking_blocks"), f"{p}.thinking_blocks")]
        text = _text_parts(content, p, required=False, allow_refusal=True)
        msg = Message("assistant", thinking + text, p, cache=cache)
        msg.tool_calls = _parse_tool_calls(raw.get("tool_calls"), p, max_depth)
        legacy = raw.get("function_call")
        if legacy is not None:
            msg.tool_calls.append(
                _parse_function(legacy, f"{p}.function_call", _legacy_call_id(i), max_depth)
            )
        return msg
    parts = _text_parts(content, p, required=True)
    if role == "function":  # legacy: answers the closest preceding assistant function_call
        return Message("tool", parts, p, tool_call_id="", cache=cache)
    call_id = raw.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(
            f"'{p}.tool_call_id' is required: set it to the id of the assistant tool call"
            " this message answers.",
            f"{p}.tool_call_id",
        )
    return Message("tool", parts, p, tool_call_id=call_id, cache=cache)


def _legacy_call_id(message_index: int) -> str:
    return f"call_fn_{message_index}"


def _text_parts(content: object, p: str, *, required: bool, allow_refusal: bool = False) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if content is None and not required:
        return []
    if not isinstance(content, list):
        raise _wrong_type(f"{p}.content", "a string or an array of text parts", content)
    parts: list[Part] = []
    for j, part in enumerate(content):
        pp = f"{p}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" or (allow_refusal and kind == "refusal"):
            key = "text" if kind == "text" else "refusal"
            text = part.get(key)
            if not isinstance(text, str):
                raise _wrong_type(f"{pp}.{key}", "a string", text)
            parts.append(TextPart(text, cache_mark(part.get("cache_control"), f"{pp}.cache_control")))
        else:
            raise invalid_request(
                f'\'{pp}\' must be a text part {{"type": "text", "text": "..."}} in this message'
                f" (got type {kind!r}); only user messages may carry images.",
                pp,
            )
    return parts


def _user_parts(content: object, p: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise _wrong_type(f"{p}.content", "a string or an array of content parts", content)
    parts: list[Part] = []
    for j, part in enumerate(content):
        pp = f"{p}.content[{j}]"
        if not isinstance(part, dict):
            raise _wrong_type(pp, "an object with a 'type'", part)
        kind = part.get("type")
        cache = cache_mark(part.get("cache_control"), f"{pp}.cache_control")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _wrong_type(f"{pp}.text", "a string", text)
            parts.append(TextPart(text, cache))
        elif kind == "image_url":
            parts.append(_image_part(part.get("image_url"), f"{pp}.image_url", cache))
        elif kind == "input_audio":
            raise invalid_request(
                f"'{pp}': audio input is not supported by Bedrock Converse through this gateway; "
                "send a transcript as a text part instead.",
                pp,
            )
        elif kind == "file":
            raise invalid_request(
                f"'{pp}': file parts are not supported through this gateway; extract the document's text "
                "and send it as a text part.",
                pp,
            )
        else:
            raise invalid_request(
                f"'{pp}.type' must be 'text' or 'image_url', got {kind!r}.",
                f"{pp}.type",
            )
    return parts


def _image_part(value: object, pp: str, cache: bool | str) -> Part:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str):
        raise _wrong_type(f"{pp}.url", "a data: URL or an http(s) URL", url)
    if url.startswith("data:"):
        image_format, b64 = _parse_data_url(url, pp)
        return ImagePart(image_format, b64, pp, cache)
    if url.startswith(("https://", "http://")):
        return RemoteImagePart(url, pp, cache)
    raise invalid_request(
        f"'{pp}' must be a data: URL (data:image/png;base64,...) or an http(s) URL; got {url[:40]!r}.", pp
    )


def _parse_data_url(url: str, pp: str) -> tuple[str, str]:
    header, comma, data = url.partition(",")
    mime = header[5:].split(";", 1)[0].lower()
    if not comma or not header.endswith(";base64"):
        raise invalid_request(f"'{pp}' must be a base64 data URL such as data:image/png;base64,<data>.", pp)
    if mime not in IMAGE_MIME:
        raise invalid_request(
            f"'{pp}': image type {mime or 'unknown'!r} is not supported; send png, jpeg, gif or webp.", pp
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request(
            f"'{pp}': the data URL does not hold valid base64; re-encode the image.", pp
        ) from None
    sniffed = sniff_image(raw)
    if sniffed is None:
        raise invalid_request(
            f"'{pp}': the data is not a {IMAGE_MIME[mime]} image (nor png, jpeg, gif or webp);"
            " check the file.",
            pp,
        )
    return sniffed, data


def _parse_tool_calls(value: object, p: str, max_depth: int) -> list[ToolCall]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(f"{p}.tool_calls", "an array of tool calls", value)
    calls = []
    for j, call in enumerate(value):
        pc = f"{p}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise _wrong_type(
                pc, 'an object {"id", "type": "function", "function": {"name", "arguments"}}', call
            )
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise invalid_request(f"'{pc}.id' is required: send the tool call id as a string.", f"{pc}.id")
        calls.append(_parse_function(call.get("function"), f"{pc}.function", call_id, max_depth))
    return calls


def _parse_function(fn: object, pf: str, call_id: str, max_depth: int) -> ToolCall:
    if not isinstance(fn, dict):
        raise _wrong_type(pf, 'an object {"name", "arguments"}', fn)
    name = fn.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise invalid_request(
            f"'{pf}.name' must match [a-zA-Z0-9_-]{{1,64}}, got {name!r}.",
            f"{pf}.name",
        )
    arguments = fn.get("arguments")
    if arguments is None or arguments == "":
        args: object = {}
    elif isinstance(arguments, str):
        try:
            args = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            raise invalid_request(
                f"'{pf}.arguments' is not valid JSON; send the arguments as a JSON object string.",
                f"{pf}.arguments",
            ) from None
    else:
        args = arguments
    if not isinstance(args, dict):
        raise invalid_request(
            f"'{pf}.arguments' must encode a JSON object (Bedrock tool input), got {type_name(args)}.",
            f"{pf}.arguments",
        )
    if nesting_beyond(args, max_depth) is not None:
        raise invalid_request(depth_message(f"{pf}.arguments", max_depth), f"{pf}.arguments")
    return ToolCall(call_id, name, args)


def _parse_tools(value: object) -> list[ToolDef] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _wrong_type("tools", "an array of function tools", value)
    tools: list[ToolDef] = []
    seen: set[str] = set()
    for j, tool in enumerate(value):
        pt = f"tools[{j}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise invalid_request(
                f'\'{pt}\' must be a function tool: {{"type": "function", "function": {{"name", ...}}}}.',
                f"{pt}.type",
            )
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise _wrong_type(f"{pt}.function", 'an object {"name", "description", "parameters"}', fn)
        name = fn.get("name")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise invalid_request(
                f"'{pt}.function.name' must match [a-zA-Z0-9_-]{{1,64}} (letters, digits, _ and -),"
                f" got {name!r}.",
                f"{pt}.function.name",
            )
        if name in seen:
            raise invalid_request(
                f"'{pt}.function.name': tool {name!r} is declared twice.", f"{pt}.function.name"
            )
        seen.add(name)
        description = fn.get("description")
        if description is not None and not isinstance(description, str):
            raise _wrong_type(f"{pt}.function.description", "a string", description)
        parameters = fn.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        elif not isinstance(parameters, dict):
            raise _wrong_type(f"{pt}.function.parameters", "a JSON Schema object", parameters)
        tools.append(
            ToolDef(
                name,
                description or None,
                parameters,
                cache_mark(tool.get("cache_control"), f"{pt}.cache_control"),
            )
        )
    return tools


def _parse_tool_choice(value: object, tools: list[ToolDef] | None) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise invalid_request(
                f"'tool_choice' must be 'auto', 'none', 'required' or a named function, got {value!r}.",
                "tool_choice",
            )
        if value == "required" and not tools:
            raise invalid_request(
                "'tool_choice' is 'required' but no 'tools' were sent: add tools.", "tool_choice"
            )
        return ToolChoice(ToolChoiceMode(value))
    fn = value.get("function") if isinstance(value, dict) and value.get("type") == "function" else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str):
        raise invalid_request(
            '\'tool_choice\' must be "auto", "none", "required" or'
            ' {"type": "function", "function": {"name": ...}}.',
            "tool_choice",
        )
    if not tools or all(t.name != name for t in tools):
        raise invalid_request(
            f"'tool_choice' names function {name!r}, which is not in 'tools': declare it or change the name.",
            "tool_choice",
        )
    return ToolChoice(ToolChoiceMode.TOOL, name)


def _parse_response_format(value: object) -> tuple[str, str | None, dict[str, Any] | None]:
    if value is None:
        return "text", None, None
    response_format = value if isinstance(value, dict) else {}
    kind = response_format.get("type")
    if kind in ("text", "json_object"):
        return kind, None, None
    if kind != "json_schema":
        raise invalid_request(
            "'response_format.type' must be 'text', 'json_object' or 'json_schema'.", "response_format.type"
        )
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise _wrong_type("response_format.json_schema", 'an object {"name", "schema"}', spec)
    name = spec.get("name") or "json_response"
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise invalid_request(
            f"'response_format.json_schema.name' must match [a-zA-Z0-9_-]{{1,64}}, got {name!r}.",
            "response_format.json_schema.name",
        )
    schema = spec.get("schema")
    if schema is None:
        schema = {"type": "object"}
    elif not isinstance(schema, dict):
        raise _wrong_type("response_format.json_schema.schema", "a JSON Schema object", schema)
    return "json_schema", name, schema
