"""An Anthropic Messages body (POST /v1/messages, /v1/messages/count_tokens) parsed into a ChatRequest.

Every client mistake is a 400 naming the field. Anthropic's spellings end here: `system` (a string or text
blocks) becomes system messages, `tool_use` blocks ToolCalls, each `tool_result` block a tool message,
`thinking` / `redacted_thinking` blocks ReasoningParts (sent back unchanged), `cache_control` a cache flag
on the part, `tool_choice` a ToolChoice, `thinking` and `output_config.effort` a Reasoning.

What Claude Code sends that Bedrock has no use for (`context_management`, `service_tier`, server tools,
`container`, `mcp_servers`) is ignored with a debug log: a coding agent must never fail on it.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any

from bedrock_proxy.chat.fields import (
    base64_bytes,
    cache_mark,
    image_format,
    model_name,
    new_tool_name,
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
    reasoning_block,
    required_str,
    tool_schema,
    wrong_type,
)
from bedrock_proxy.chat.request import (
    CacheMark,
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Reasoning,
    ReasoningMode,
    RemoteImagePart,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolDef,
)
from bedrock_proxy.errors import invalid_request

logger = logging.getLogger("bedrock_proxy.anthropic")

CLIENT_API = "anthropic.messages"
_EFFORTS = ("low", "medium", "high", "max", "xhigh")
_IGNORED_KEYS = ("context_management", "service_tier", "container", "mcp_servers", "inference_geo")
# media type of a base64 document -> Converse's document format
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/html": "html",
    "text/markdown": "md",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_DOCUMENT_NAME_BAD = re.compile(r"[^A-Za-z0-9\-()\[\] ]+")


def parse_messages_request(body: Any, *, count_tokens: bool = False) -> ChatRequest:
    """The gateway's request for a Messages body; `count_tokens`: the count_tokens body (no max_tokens)."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    model = model_name(body)
    max_tokens = optional_int(body, "max_tokens", 1)
    if max_tokens is None and not count_tokens:
        raise invalid_request("'max_tokens' is required: the most tokens the answer may have.", "max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("'messages' must be a non-empty array of messages.", "messages")
    parsed = _system(body.get("system"))
    for index, message in enumerate(messages):
        parsed.extend(_message(message, f"messages[{index}]"))
    stream = bool(optional_bool(body, "stream"))
    for key in _IGNORED_KEYS:
        if key in body:
            logger.debug("%s ignored: Bedrock has no use for it", key)
    tools, dropped_tools = _tools(body.get("tools"))
    return ChatRequest(
        body=body,
        model=model,
        messages=_recorded_messages(body),
        parsed_messages=parsed,
        stream=stream and not count_tokens,
        max_tokens=max_tokens,
        temperature=_unit_number(body, "temperature"),
        top_p=_unit_number(body, "top_p"),
        top_k=optional_int(body, "top_k", 0),
        stop=_stop_sequences(body.get("stop_sequences")),
        user=_user(body.get("metadata")),
        tools=tools or None,
        tool_choice=None if dropped_tools and not tools else _tool_choice(body.get("tool_choice")),
        parallel_tool_calls=_parallel(body.get("tool_choice")),
        reasoning=_reasoning(body.get("thinking"), body.get("output_config")),
        client_api=CLIENT_API,
        clamp_max_tokens=True,
        **_output_format(body.get("output_config")),
    )


# ----------------------------------------------------------------------------------------------------------
# Top-level fields


def _unit_number(body: dict[str, Any], key: str) -> float | None:
    """temperature and top_p: Anthropic's range is 0 to 1 (OpenAI's temperature goes to 2)."""
    value = optional_number(body, key, 0, 1)
    return None if value is None else float(value)


def _stop_sequences(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise wrong_type("stop_sequences", "an array of strings", value)
    return [s for s in value if s] or None


def _user(metadata: object) -> str | None:
    """metadata.user_id: who the end user is (Claude Code sends a JSON string of device and session)."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise wrong_type("metadata", "an object", metadata)
    user_id = metadata.get("user_id")
    if user_id is None:
        return None
    if not isinstance(user_id, str):
        raise wrong_type("metadata.user_id", "a string", user_id)
    return user_id or None


def _recorded_messages(body: dict[str, Any]) -> list[Any]:
    """What observability records as the input: the system prompt as a first message, then the messages."""
    system = body.get("system")
    messages: list[Any] = list(body["messages"])
    return [{"role": "system", "content": system}, *messages] if system else messages


# ----------------------------------------------------------------------------------------------------------
# system and messages


def _system(value: object) -> list[Message]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [Message("system", [TextPart(value)], "system")]
    if not isinstance(value, list):
        raise wrong_type("system", "a string or an array of text blocks", value)
    parts: list[Part] = []
    for index, block in enumerate(value):
        param = f"system[{index}]"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid_request(
                f'\'{param}\' must be a text block: {{"type": "text", "text": ...}}.', param
            )
        parts.append(TextPart(required_str(block, "text", param), _cache(block, param)))
    return [Message("system", parts, "system")] if parts else []


def _message(message: object, param: str) -> list[Message]:
    """One Anthropic message as the gateway's messages: its tool results each become a tool message."""
    if not isinstance(message, dict):
        raise wrong_type(param, "an object with role and content", message)
    role = message.get("role")
    if role not in ("user", "assistant", "system"):
        raise invalid_request(f"'{param}.role' must be 'user' or 'assistant', got {role!r}.", f"{param}.role")
    content = message.get("content")
    if isinstance(content, str):
        return [Message(role, [TextPart(content)], param)]
    if not isinstance(content, list):
        raise wrong_type(f"{param}.content", "a string or an array of content blocks", content)
    results: list[Message] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    cache_after: bool | str = False
    for index, block in enumerate(content):
        block_param = f"{param}.content[{index}]"
        if not isinstance(block, dict):
            raise wrong_type(block_param, "a content block object", block)
        kind = block.get("type")
        cache = _cache(block, block_param)
        if kind == "tool_result":
            if role != "user":
                raise invalid_request(
                    f"'{block_param}': tool_result blocks go in user messages.", block_param
                )
            results.append(_tool_result(block, block_param, cache))
        elif kind == "tool_use":
            if role != "assistant":
                raise invalid_request(
                    f"'{block_param}': tool_use blocks go in assistant messages.", block_param
                )
            calls.append(_tool_use(block, block_param))
            cache_after = cache_after or cache
        elif kind in ("server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "mcp_tool_use"):
            logger.debug("%s: %s block ignored (Bedrock runs no server tools)", block_param, kind)
        else:
            parts.append(_content_part(block, block_param, cache, role))
    messages = results
    if parts or calls:
        messages.append(Message(role, parts, param, tool_calls=calls, cache=cache_after))
    if not messages:
        messages.append(Message(role, [], param))
    return messages


def _content_part(block: dict[str, Any], param: str, cache: bool | str, role: str) -> Part:
    kind = block.get("type")
    if kind == "text":
        return TextPart(required_str(block, "text", param), cache)
    if kind == "image":
        return _image(block.get("source"), f"{param}.source", cache)
    if kind == "document":
        return _document(block, param, cache)
    reasoning = reasoning_block(block, param, cache)
    if reasoning is not None:
        return reasoning
    raise invalid_request(
        f"'{param}.type' {kind!r} is not a content block this gateway takes: use text, image, document,"
        " tool_use, tool_result, thinking or redacted_thinking.",
        f"{param}.type",
    )


def _cache(block: dict[str, Any], param: str) -> CacheMark:
    """A block's cache_control: True for the default TTL, or its `ttl` ("5m" | "1h")."""
    control = block.get("cache_control")
    if control is None:
        return False
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise invalid_request(
            f'\'{param}.cache_control\' must be {{"type": "ephemeral"}}.', f"{param}.cache_control"
        )
    return cache_mark(control, f"{param}.cache_control")


def _image(source: object, param: str, cache: bool | str) -> Part:
    if not isinstance(source, dict):
        raise wrong_type(param, "an image source object", source)
    kind = source.get("type")
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid_request(f"'{param}.url' must be an http(s) URL.", f"{param}.url")
        return RemoteImagePart(url, param, cache)
    if kind != "base64":
        raise invalid_request(f"'{param}.type' must be 'base64' or 'url', got {kind!r}.", f"{param}.type")
    data_param = f"{param}.data"
    return ImagePart(
        image_format(base64_bytes(source.get("data"), data_param), data_param), source["data"], param, cache
    )


def _document(block: dict[str, Any], param: str, cache: bool | str) -> Part:
    source = block.get("source")
    source_param = f"{param}.source"
    if not isinstance(source, dict):
        raise wrong_type(source_param, "a document source object", source)
    kind = source.get("type")
    title = block.get("title")
    name = _document_name(title if isinstance(title, str) else "", param)
    if kind == "text":
        text = source.get("data")
        if not isinstance(text, str):
            raise wrong_type(f"{source_param}.data", "a string", text)
        return DocumentPart("txt", base64.b64encode(text.encode()).decode("ascii"), name, param, cache)
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return TextPart(content, cache)
        if not isinstance(content, list):
            raise wrong_type(f"{source_param}.content", "a string or an array of text blocks", content)
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return TextPart("\n".join(t for t in texts if isinstance(t, str)), cache)
    if kind != "base64":
        raise invalid_request(
            f"'{source_param}.type' must be 'base64', 'text' or 'content' (Bedrock takes document bytes,"
            f" not URLs), got {kind!r}.",
            f"{source_param}.type",
        )
    media_type = source.get("media_type")
    document_format = _DOCUMENT_FORMATS.get(media_type) if isinstance(media_type, str) else None
    if document_format is None:
        raise invalid_request(
            f"'{source_param}.media_type' {media_type!r} is not a document type Bedrock reads: use"
            f" {', '.join(_DOCUMENT_FORMATS)}.",
            f"{source_param}.media_type",
        )
    base64_bytes(source.get("data"), f"{source_param}.data")
    return DocumentPart(document_format, source["data"], name, param, cache)


def _document_name(title: str, param: str) -> str:
    """Converse requires a name: letters, digits, spaces, hyphens, parentheses, brackets; no double space."""
    name = " ".join(_DOCUMENT_NAME_BAD.sub(" ", title).split())[:200]
    return name or "document-" + "-".join(re.findall(r"\d+", param))


def _tool_use(block: dict[str, Any], param: str) -> ToolCall:
    call_id = block.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise wrong_type(f"{param}.id", "a non-empty string", call_id)
    name = block.get("name")
    if not isinstance(name, str) or not name:
        raise wrong_type(f"{param}.name", "a non-empty string", name)
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise wrong_type(f"{param}.input", "an object", arguments)
    return ToolCall(call_id, name, arguments)


def _tool_result(block: dict[str, Any], param: str, cache: bool | str) -> Message:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise wrong_type(f"{param}.tool_use_id", "a non-empty string", call_id)
    is_error = bool(optional_bool(block, "is_error", f"{param}.is_error"))
    content = block.get("content", "")
    parts: list[Part]
    if isinstance(content, str):
        parts = [TextPart(content)]
    elif isinstance(content, list):
        parts = []
        for index, item in enumerate(content):
            item_param = f"{param}.content[{index}]"
            if not isinstance(item, dict) or item.get("type") not in ("text", "image", "document"):
                raise invalid_request(f"'{item_param}' must be a text, image or document block.", item_param)
            parts.append(_content_part(item, item_param, False, "user"))
    else:
        raise wrong_type(f"{param}.content", "a string or an array of blocks", content)
    return Message("tool", parts, param, tool_call_id=call_id, cache=cache, tool_error=is_error)


# ----------------------------------------------------------------------------------------------------------
# tools, tool_choice, thinking, output_config


def _tools(value: object) -> tuple[list[ToolDef], bool]:
    """The client tools, and whether server tools (which Bedrock cannot run) were left out."""
    if value is None:
        return [], False
    if not isinstance(value, list):
        raise wrong_type("tools", "an array of tools", value)
    tools: list[ToolDef] = []
    dropped = False
    for index, tool in enumerate(value):
        param = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise wrong_type(param, "a tool object", tool)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            logger.debug("%s: server tool %r ignored (Bedrock runs no server tools)", param, kind)
            dropped = True
            continue
        name = new_tool_name(tool.get("name"), f"{param}.name", tools)
        description = optional_str(tool, "description", f"{param}.description")
        schema = tool_schema(tool.get("input_schema"), f"{param}.input_schema", required=True)
        tools.append(ToolDef(name, description or None, schema, _cache(tool, param)))
    return tools, dropped


def _tool_choice(value: object) -> ToolChoice | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", 'an object such as {"type": "auto"}', value)
    kind = value.get("type")
    if kind == "auto":
        return ToolChoice(ToolChoiceMode.AUTO)
    if kind == "any":
        return ToolChoice(ToolChoiceMode.REQUIRED)
    if kind == "none":
        return ToolChoice(ToolChoiceMode.NONE)
    if kind == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise wrong_type("tool_choice.name", "the name of a tool in 'tools'", name)
        return ToolChoice(ToolChoiceMode.TOOL, name)
    raise invalid_request(
        f"'tool_choice.type' must be auto, any, tool or none, got {kind!r}.", "tool_choice.type"
    )


def _parallel(value: object) -> bool | None:
    if isinstance(value, dict) and isinstance(value.get("disable_parallel_tool_use"), bool):
        return not value["disable_parallel_tool_use"]
    return None


def _reasoning(thinking: object, output_config: object) -> Reasoning | None:
    effort = _effort(output_config)
    if thinking is None:
        return Reasoning(ReasoningMode.DISABLED, effort=effort) if effort else None
    if not isinstance(thinking, dict):
        raise wrong_type("thinking", 'an object such as {"type": "adaptive"}', thinking)
    kind = thinking.get("type")
    if kind == "enabled":
        budget = optional_int(thinking, "budget_tokens", 1024, param="thinking.budget_tokens")
        if budget is None:
            raise invalid_request(
                "'thinking.budget_tokens' is required with type 'enabled' (at least 1024).",
                "thinking.budget_tokens",
            )
        return Reasoning(ReasoningMode.ENABLED, budget, effort)
    if kind == "adaptive":
        return Reasoning(ReasoningMode.ADAPTIVE, effort=effort)
    if kind == "disabled":
        return Reasoning(ReasoningMode.DISABLED, effort=effort)
    raise invalid_request(
        f"'thinking.type' must be enabled, adaptive or disabled, got {kind!r}.", "thinking.type"
    )


def _effort(output_config: object) -> str | None:
    if output_config is None:
        return None
    if not isinstance(output_config, dict):
        raise wrong_type("output_config", "an object", output_config)
    effort = output_config.get("effort")
    if effort is None:
        return None
    if effort not in _EFFORTS:
        raise invalid_request(
            f"'output_config.effort' must be one of {', '.join(_EFFORTS)}, got {effort!r}.",
            "output_config.effort",
        )
    return str(effort)


def _output_format(output_config: object) -> dict[str, Any]:
    """output_config.format {"type": "json_schema", "schema"}: a structured answer, as response_format."""
    if not isinstance(output_config, dict) or output_config.get("format") is None:
        return {}
    fmt = output_config["format"]
    if (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise invalid_request(
            '\'output_config.format\' must be {"type": "json_schema", "schema": {...}}.',
            "output_config.format",
        )
    return {"response_format": "json_schema", "json_schema": fmt["schema"], "json_schema_name": "json_answer"}
