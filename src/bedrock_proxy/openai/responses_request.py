"""OpenAI's Responses API body (POST /v1/responses) parsed into the gateway's ChatRequest: every client
mistake is a 400 naming the field to change.

It lives beside the chat completions parser because it is OpenAI's wire format too: the same error shape, the
same image rules, the same tool-name rules. What the Responses API adds is its item list: `input` is a string
or items (messages, function_call, function_call_output, reasoning), `instructions` is the system prompt and
`previous_response_id` continues a stored conversation (the server loads its items and hands them in).

Coding agents (Codex) send tools and items the gateway cannot serve over Bedrock (web_search, namespace,
local_shell, custom tools, reasoning items whose encrypted content is OpenAI's): those are dropped, logged
at debug and listed in `ResponsesRequest.dropped`, never a failed request. What has no meaning here (store
options, include, prompt_cache_key, client_metadata, service_tier, truncation) is accepted and echoed. A
reasoning item carrying the gateway's own encrypted content (openai/reasoning_content.py) is the model's
signed thinking, sent back to Bedrock unchanged as the start of the next assistant turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bedrock_proxy.chat.depth import MAX_JSON_DEPTH
from bedrock_proxy.chat.fields import (
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
    ReasoningPart,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
    ToolDef,
)
from bedrock_proxy.errors import invalid_request
from bedrock_proxy.openai.chat_features import parse_reasoning_effort, parse_service_tier
from bedrock_proxy.openai.reasoning_content import decode_reasoning
from bedrock_proxy.openai.request_parts import image_part, tool_choice_mode

logger = logging.getLogger("bedrock_proxy.requests")

CLIENT_API = "openai.responses"
_ROLES = ("user", "assistant", "system", "developer")
_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text")


@dataclass(slots=True)
class ResponsesRequest:
    """A checked Responses request: the ChatRequest to send, and what the response object echoes back."""

    chat: ChatRequest
    input_items: list[dict[str, Any]]  # this request's input as items (a string input becomes one message)
    history: list[dict[str, Any]]  # the stored items of previous_response_id, prepended to the conversation
    echo: dict[str, Any]  # the request's settings as the response object repeats them
    store: bool = True
    previous_response_id: str | None = None
    dropped: list[str] = field(default_factory=list)  # what was accepted but not applied, by field name

    @property
    def stream(self) -> bool:
        return self.chat.stream


def previous_response_id(body: object) -> str | None:
    """The stored response a request continues (the server loads it before parsing), checked."""
    if not isinstance(body, dict):
        return None
    value = optional_str(body, "previous_response_id")
    if value is not None and not value:
        raise invalid_request(
            "'previous_response_id' is empty: send the id of a stored response (resp_...) or leave it out.",
            "previous_response_id",
        )
    return value


# ----------------------------------------------------------------------------------------------------------
# parse_responses_request


def parse_responses_request(body: object, history: list[dict[str, Any]] | None = None) -> ResponsesRequest:
    """Check a Responses body; `history` is the stored conversation of its previous_response_id."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object with 'model' and 'input'.")
    model = model_name(body)
    _refuse_unsupported(body)
    history = history or []
    input_items = _input_items(body.get("input"))
    dropped: list[str] = []
    messages: list[Message] = []
    instructions = optional_str(body, "instructions")
    if instructions:
        messages.append(Message("system", [TextPart(instructions)], "instructions"))
    for index, item in enumerate(history):
        _add_item(messages, item, f"previous_response_id (item {index})", dropped)
    for index, item in enumerate(input_items):
        _add_item(
            messages, item, f"input[{index}]" if isinstance(body.get("input"), list) else "input", dropped
        )
    if not messages:
        raise invalid_request("'input' has nothing to answer: send text or at least one message.", "input")

    chat = ChatRequest(body=body, model=model, messages=history + input_items, parsed_messages=messages)
    chat.client_api = CLIENT_API
    chat.stream = bool(optional_bool(body, "stream"))
    chat.include_usage = True
    chat.max_tokens = optional_int(body, "max_output_tokens", 1)
    chat.temperature = optional_number(body, "temperature", 0, 2)
    chat.top_p = optional_number(body, "top_p", 0, 1)
    top_logprobs = optional_int(body, "top_logprobs", 0)
    chat.top_logprobs = top_logprobs or None
    chat.user = optional_str(body, "user") or optional_str(body, "safety_identifier")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise wrong_type("metadata", "an object of string keys and values", metadata)
    chat.metadata = metadata or {}
    tools, tools_echo = _parse_tools(body.get("tools"), dropped)
    chat.tools = tools or None
    chat.tool_choice = _parse_tool_choice(body.get("tool_choice"), tools, dropped)
    chat.parallel_tool_calls = optional_bool(body, "parallel_tool_calls")
    text = _parse_text(body.get("text"), chat)
    reasoning = _parse_reasoning(body.get("reasoning"))
    # Codex sends an effort whatever the model: one without reasoning gets the request without it (named)
    chat.reasoning = parse_reasoning_effort(reasoning.get("effort"), "reasoning.effort", refuse=False)
    chat.service_tier = parse_service_tier(body)
    for key in ("include", "prompt_cache_key", "client_metadata", "truncation"):
        if body.get(key) is not None:
            logger.debug("responses: '%s' accepted and not applied", key)
    if dropped:
        logger.debug("responses: not applied over Bedrock: %s", ", ".join(dropped))

    echo = {
        "instructions": instructions,
        "max_output_tokens": chat.max_tokens,
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "parallel_tool_calls": chat.parallel_tool_calls if chat.parallel_tool_calls is not None else True,
        "previous_response_id": previous_response_id(body),
        "prompt_cache_key": optional_str(body, "prompt_cache_key"),
        "reasoning": reasoning,
        "safety_identifier": optional_str(body, "safety_identifier"),
        "service_tier": chat.service_tier or "default",
        "store": optional_bool(body, "store") is not False,
        "temperature": chat.temperature if chat.temperature is not None else 1.0,
        "text": text,
        "tool_choice": _tool_choice_echo(chat.tool_choice),
        "tools": tools_echo,
        "top_logprobs": top_logprobs or 0,
        "top_p": chat.top_p if chat.top_p is not None else 1.0,
        "truncation": "disabled",
        "user": optional_str(body, "user"),
        "metadata": chat.metadata,
    }
    return ResponsesRequest(
        chat=chat,
        input_items=input_items,
        history=history,
        echo=echo,
        store=echo["store"],
        previous_response_id=echo["previous_response_id"],
        dropped=dropped,
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    """Features that would change the answer and that the gateway cannot serve: a 400, never silence."""
    if body.get("background"):
        raise invalid_request(
            "'background' responses are not supported by this gateway: send the request without it "
            "(stream: true gives early output instead).",
            "background",
        )
    if body.get("conversation") is not None:
        raise invalid_request(
            "'conversation' is not supported by this gateway: continue a conversation with "
            "'previous_response_id' instead.",
            "conversation",
        )
    if body.get("prompt") is not None:
        raise invalid_request(
            "'prompt' (stored prompt templates) is not supported by this gateway: send 'instructions' and "
            "'input' instead.",
            "prompt",
        )


def _input_items(value: object) -> list[dict[str, Any]]:
    """`input` as a list of items: a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    if value is None:
        raise invalid_request(
            "'input' is required: send a string, or an array of items such as "
            '{"role": "user", "content": "Hello"}.',
            "input",
        )
    if not isinstance(value, list):
        raise wrong_type("input", "a string or an array of items", value)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise wrong_type(f"input[{index}]", "an object (a message or another item)", item)
    return value


def _add_item(messages: list[Message], item: dict[str, Any], p: str, dropped: list[str]) -> None:
    """One input item into the conversation; items the gateway cannot send are dropped and noted."""
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = "message"
    if kind == "message":
        _add_message(messages, item, p)
    elif kind == "function_call":
        call = _function_call(item, p)
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant":
            last.tool_calls.append(call)  # parallel calls are one assistant turn
        else:
            messages.append(Message("assistant", [], p, tool_calls=[call]))
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if call_id is None and item.get("namespace") is not None:
            # Codex's namespaced outputs (its own agent state) answer no call the model made
            dropped.append(f"{p} (namespaced function_call_output)")
            return
        if not isinstance(call_id, str) or not call_id:
            raise invalid_request(
                f"'{p}.call_id' is required: set it to the call_id of the function_call this output answers.",
                f"{p}.call_id",
            )
        messages.append(
            Message("tool", _output_parts(item.get("output"), f"{p}.output"), p, tool_call_id=call_id)
        )
    elif kind == "reasoning" and (parts := _reasoning_parts(item, p)):
        # the model's signed thinking, sent back before the turn's text and calls (Claude checks it)
        messages.append(Message("assistant", list(parts), p))
    elif kind == "item_reference":
        raise invalid_request(
            f"'{p}': item references are not supported by this gateway; send the item itself, or continue "
            "with 'previous_response_id'.",
            f"{p}.type",
        )
    elif isinstance(kind, str):
        # reasoning without content of ours (OpenAI's own is useless to another model), hosted and custom tool
        # calls the gateway never makes: noted, and left out of what Bedrock sees
        dropped.append(f"{p} ({kind})")
    else:
        raise invalid_request(
            f"'{p}.type' must be a string such as 'message', got {type_name(kind)}.", f"{p}.type"
        )


def _reasoning_parts(item: dict[str, Any], p: str) -> list[ReasoningPart]:
    """A reasoning item's thinking blocks, when its encrypted_content is the gateway's own."""
    return decode_reasoning(item.get("encrypted_content"), f"{p}.encrypted_content") or []


def _add_message(messages: list[Message], item: dict[str, Any], p: str) -> None:
    role = item.get("role")
    if role not in _ROLES:
        raise invalid_request(
            f"'{p}.role' must be one of user, assistant, system, developer; got {role!r}.", f"{p}.role"
        )
    parts = _content_parts(item.get("content"), f"{p}.content", images=role == "user")
    if role in ("system", "developer"):
        messages.append(Message("system", parts, p))
    else:
        messages.append(Message(role, parts, p))


def _content_parts(content: object, p: str, *, images: bool) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise wrong_type(p, "a string or an array of content parts", content)
    parts: list[Part] = []
    for index, part in enumerate(content):
        pp = f"{p}[{index}]"
        if not isinstance(part, dict):
            raise wrong_type(pp, "an object with a 'type'", part)
        kind = part.get("type")
        if kind in _TEXT_PARTS or kind == "refusal":
            parts.append(TextPart(required_str(part, "refusal" if kind == "refusal" else "text", pp)))
        elif kind == "input_image" and images:
            if part.get("image_url") is None and part.get("file_id") is not None:
                raise invalid_request(
                    f"'{pp}.file_id': uploaded files are not supported by this gateway; send the image as "
                    "'image_url' (a data: URL or an http(s) URL).",
                    f"{pp}.file_id",
                )
            parts.append(image_part(part.get("image_url"), f"{pp}.image_url", False))
        elif kind in ("input_file", "input_audio"):
            raise invalid_request(
                f"'{pp}': {kind} parts are not supported by this gateway; send the content as text.", pp
            )
        else:
            allowed = "input_text or input_image" if images else "input_text or output_text"
            raise invalid_request(f"'{pp}.type' must be {allowed}, got {kind!r}.", f"{pp}.type")
    return parts


def _output_parts(output: object, p: str) -> list[Part]:
    """A function_call_output's output: a string, or input_text / input_image parts."""
    if isinstance(output, str):
        return [TextPart(output)]
    if isinstance(output, list):
        return _content_parts(output, p, images=True)
    raise wrong_type(p, "a string or an array of input_text / input_image parts", output)


def _function_call(item: dict[str, Any], p: str) -> ToolCall:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid_request(f"'{p}.call_id' is required: send the call's id as a string.", f"{p}.call_id")
    name = tool_name(item.get("name"), f"{p}.name")
    arguments = item.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        raise wrong_type(f"{p}.arguments", "a string of JSON", arguments)
    return ToolCall(call_id, name, tool_arguments(arguments, f"{p}.arguments", MAX_JSON_DEPTH))


# ----------------------------------------------------------------------------------------------------------
# tools, tool_choice, text, reasoning


def _parse_tools(value: object, dropped: list[str]) -> tuple[list[ToolDef], list[dict[str, Any]]]:
    """The function tools, and their echo; every other tool type is dropped and noted."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        raise wrong_type("tools", "an array of tools", value)
    tools: list[ToolDef] = []
    echo: list[dict[str, Any]] = []
    for index, tool in enumerate(value):
        pt = f"tools[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid_request(
                f'\'{pt}\' must be a tool such as {{"type": "function", "name": ..., "parameters": {{}}}}.',
                f"{pt}.type",
            )
        if tool["type"] != "function":
            dropped.append(f"{pt} ({tool['type']})")
            continue
        name = new_tool_name(tool.get("name"), f"{pt}.name", tools)
        description = optional_str(tool, "description", f"{pt}.description")
        parameters = tool_schema(tool.get("parameters"), f"{pt}.parameters")
        tools.append(ToolDef(name, description or None, parameters))
        echo.append(
            {
                "type": "function",
                "name": name,
                "description": description,
                "parameters": parameters,
                "strict": bool(tool.get("strict", True)),
            }
        )
    return tools, echo


def _parse_tool_choice(value: object, tools: list[ToolDef], dropped: list[str]) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tool_choice_mode(value, bool(tools))
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise invalid_request(
            '\'tool_choice\' must be "auto", "none", "required" or {"type": "function", "name": ...}.',
            "tool_choice",
        )
    if value["type"] == "function":
        name = value.get("name")
        if not isinstance(name, str) or all(t.name != name for t in tools):
            raise invalid_request(
                f"'tool_choice.name' names function {name!r}, which is not in 'tools': declare it or change "
                "the name.",
                "tool_choice.name",
            )
        return ToolChoice(ToolChoiceMode.TOOL, name)
    if value["type"] == "allowed_tools":
        mode = value.get("mode", "auto")
        dropped.append("tool_choice.tools")
        return ToolChoice(ToolChoiceMode.REQUIRED if mode == "required" and tools else ToolChoiceMode.AUTO)
    dropped.append(f"tool_choice ({value['type']})")  # a hosted tool the gateway does not serve
    return None


def _tool_choice_echo(choice: ToolChoice | None) -> Any:
    if choice is None:
        return "auto"
    if choice.mode is ToolChoiceMode.TOOL:
        return {"type": "function", "name": choice.name}
    return str(choice.mode)


def _parse_text(value: object, chat: ChatRequest) -> dict[str, Any]:
    """`text.format` into the request's response_format; returns the `text` the response echoes."""
    if value is None:
        return {"format": {"type": "text"}, "verbosity": "medium"}
    if not isinstance(value, dict):
        raise wrong_type("text", 'an object such as {"format": {"type": "json_schema", ...}}', value)
    fmt = value.get("format")
    verbosity = value.get("verbosity") or "medium"
    if fmt is None:
        return {"format": {"type": "text"}, "verbosity": verbosity}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("text", "json_object"):
        chat.response_format = kind
        return {"format": {"type": kind}, "verbosity": verbosity}
    if kind != "json_schema":
        raise invalid_request(
            "'text.format.type' must be 'text', 'json_object' or 'json_schema'.", "text.format.type"
        )
    assert isinstance(fmt, dict)
    name = tool_name(fmt.get("name") or "json_response", "text.format.name")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise wrong_type("text.format.schema", "a JSON Schema object", schema)
    chat.response_format, chat.json_schema_name, chat.json_schema = "json_schema", name, schema
    echo = {
        "type": "json_schema",
        "name": name,
        "schema": schema,
        "description": fmt.get("description"),
        "strict": fmt.get("strict"),
    }
    return {"format": echo, "verbosity": verbosity}


def _parse_reasoning(value: object) -> dict[str, Any]:
    if value is None:
        return {"effort": None, "summary": None}
    if not isinstance(value, dict):
        raise wrong_type("reasoning", 'an object such as {"effort": "medium"}', value)
    effort = optional_str(value, "effort", "reasoning.effort")
    summary = optional_str(value, "summary", "reasoning.summary")
    return {"effort": effort, "summary": summary}
