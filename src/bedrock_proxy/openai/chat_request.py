"""OpenAI's chat completions body parsed into the gateway's ChatRequest: every client mistake is a 400 naming
the field to change.

Parsing is independent of the model; what a given Bedrock model accepts is decided later in `translate`.
Unknown top-level keys are ignored (OpenAI SDKs send extras); the raw body stays available as `.body`.
OpenAI's own spellings end here: developer messages become system, function messages tool, refusal parts
text, and tool_choice a ToolChoice.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.chat.depth import MAX_JSON_DEPTH
from bedrock_proxy.chat.fields import (
    cache_mark,
    model_name,
    new_tool_name,
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
    required_str,
    tool_arguments,
    tool_name,
    tool_schema,
    type_name,
    wrong_type,
)
from bedrock_proxy.chat.request import (
    ChatRequest,
    Message,
    Part,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolDef,
)
from bedrock_proxy.errors import invalid_request
from bedrock_proxy.openai.chat_features import (
    parse_latency,
    parse_reasoning_effort,
    parse_service_tier,
    parse_thinking,
    parse_thinking_blocks,
    refuse_request_guardrail,
)
from bedrock_proxy.openai.request_parts import image_part, tool_choice_mode

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


# ----------------------------------------------------------------------------------------------------------
# parse_chat_request


def parse_chat_request(body: object, max_depth: int = MAX_JSON_DEPTH) -> ChatRequest:
    """Check an OpenAI chat completions body; unknown top-level keys are ignored (SDKs send extras).

    `max_depth` bounds the nesting of JSON carried inside strings (tool-call arguments); the body's own
    nesting is checked when it is read."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object with 'model' and 'messages'.")
    model = model_name(body)
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
    req.stream = bool(optional_bool(body, "stream"))
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise wrong_type("stream_options", 'an object such as {"include_usage": true}', options)
        req.include_usage = bool(optional_bool(options, "include_usage", "stream_options.include_usage"))
    req.n = optional_int(body, "n", 1, 8) or 1
    max_tokens = optional_int(body, "max_tokens", 1)
    max_completion = optional_int(body, "max_completion_tokens", 1)
    req.max_tokens = max_completion if max_completion is not None else max_tokens
    req.temperature = optional_number(body, "temperature", 0, 2)
    req.top_p = optional_number(body, "top_p", 0, 1)
    req.top_k = optional_int(body, "top_k", 0)
    req.stop = parse_stop(body.get("stop"))
    req.presence_penalty = optional_number(body, "presence_penalty", -2, 2)
    req.frequency_penalty = optional_number(body, "frequency_penalty", -2, 2)
    logit_bias = body.get("logit_bias")
    if logit_bias is not None and not isinstance(logit_bias, dict):
        raise wrong_type("logit_bias", "an object of token id -> bias", logit_bias)
    req.logit_bias = logit_bias
    req.logprobs = bool(optional_bool(body, "logprobs"))
    req.top_logprobs = optional_int(body, "top_logprobs", 0, 20)
    req.seed = optional_int(body, "seed")
    req.user = optional_str(body, "user")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise wrong_type("metadata", "an object", metadata)
    req.metadata = metadata or {}
    req.tools = _parse_tools(body.get("tools"))
    req.tool_choice = _parse_tool_choice(body.get("tool_choice"), req.tools)
    req.parallel_tool_calls = optional_bool(body, "parallel_tool_calls")
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
        raise wrong_type("stop", "a string or an array of up to 4 strings", value)
    if len(value) > 4:
        raise invalid_request(f"'stop' takes at most 4 sequences, got {len(value)}: remove some.", "stop")
    return [s for s in value if s] or None


def _parse_message(i: int, raw: object, max_depth: int) -> Message:
    p = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise wrong_type(p, "an object with 'role' and 'content'", raw)
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
        raise wrong_type(f"{p}.content", "a string or an array of text parts", content)
    parts: list[Part] = []
    for j, part in enumerate(content):
        pp = f"{p}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" or (allow_refusal and kind == "refusal"):
            text = required_str(part, "text" if kind == "text" else "refusal", pp)
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
        raise wrong_type(f"{p}.content", "a string or an array of content parts", content)
    parts: list[Part] = []
    for j, part in enumerate(content):
        pp = f"{p}.content[{j}]"
        if not isinstance(part, dict):
            raise wrong_type(pp, "an object with a 'type'", part)
        kind = part.get("type")
        cache = cache_mark(part.get("cache_control"), f"{pp}.cache_control")
        if kind == "text":
            parts.append(TextPart(required_str(part, "text", pp), cache))
        elif kind == "image_url":
            parts.append(image_part(part.get("image_url"), f"{pp}.image_url", cache))
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


def _parse_tool_calls(value: object, p: str, max_depth: int) -> list[ToolCall]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise wrong_type(f"{p}.tool_calls", "an array of tool calls", value)
    calls = []
    for j, call in enumerate(value):
        pc = f"{p}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise wrong_type(
                pc, 'an object {"id", "type": "function", "function": {"name", "arguments"}}', call
            )
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise invalid_request(f"'{pc}.id' is required: send the tool call id as a string.", f"{pc}.id")
        calls.append(_parse_function(call.get("function"), f"{pc}.function", call_id, max_depth))
    return calls


def _parse_function(fn: object, pf: str, call_id: str, max_depth: int) -> ToolCall:
    if not isinstance(fn, dict):
        raise wrong_type(pf, 'an object {"name", "arguments"}', fn)
    name = tool_name(fn.get("name"), f"{pf}.name")
    arguments = tool_arguments(fn.get("arguments"), f"{pf}.arguments", max_depth)
    return ToolCall(call_id, name, arguments)


def _parse_tools(value: object) -> list[ToolDef] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise wrong_type("tools", "an array of function tools", value)
    tools: list[ToolDef] = []
    for j, tool in enumerate(value):
        pt = f"tools[{j}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise invalid_request(
                f'\'{pt}\' must be a function tool: {{"type": "function", "function": {{"name", ...}}}}.',
                f"{pt}.type",
            )
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise wrong_type(f"{pt}.function", 'an object {"name", "description", "parameters"}', fn)
        name = new_tool_name(fn.get("name"), f"{pt}.function.name", tools)
        description = optional_str(fn, "description", f"{pt}.function.description")
        parameters = tool_schema(fn.get("parameters"), f"{pt}.function.parameters")
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
        return tool_choice_mode(value, bool(tools))
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
        raise wrong_type("response_format.json_schema", 'an object {"name", "schema"}', spec)
    name = tool_name(spec.get("name") or "json_response", "response_format.json_schema.name")
    schema = spec.get("schema")
    if schema is None:
        schema = {"type": "object"}
    elif not isinstance(schema, dict):
        raise wrong_type("response_format.json_schema.schema", "a JSON Schema object", schema)
    return "json_schema", name, schema
