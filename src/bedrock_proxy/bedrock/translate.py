"""The gateway's chat types <-> Bedrock Converse, as pure functions (data in, data out, no I/O).

`openai.chat_request.parse_chat_request` checks what the client sent, as a `chat.request.ChatRequest`;
`to_converse` shapes the Converse body for one model (its capabilities decide what is allowed);
`from_converse` turns Converse's answer into the gateway's `ChatAnswer` (a client API renders it).

Decisions worth knowing (each one is tested):
- A conversation that starts with an assistant turn gets a one-character user turn "." in front of it:
  Converse requires the first message to be a user message, and prefilled greetings are common.
- A request with only system messages sends their text as the user turn (there is nothing else to answer).
- Empty and whitespace-only text is dropped (Converse rejects blank text blocks); a message left with nothing
  is dropped, and its neighbours merge when they share a role. Trailing whitespace is removed from a final
  assistant turn (Claude rejects a prefill ending in whitespace).
- Neutral values of unsupported parameters (presence_penalty 0, frequency_penalty 0, logprobs false, an empty
  logit_bias) are accepted silently: OpenAI SDKs and LangChain send them by default.
- `parallel_tool_calls` is accepted and not forwarded: Converse has no switch for it.
- Tool history (toolUse / toolResult) without declared tools gets minimal tool specs for the names used,
  because Converse refuses tool blocks without a toolConfig.
- Tool call ids outside Converse's alphabet [a-zA-Z0-9_.:-]{1,64} are rewritten the same way on both sides.
- `cache_control` on a content part or message (LiteLLM's prompt caching convention) adds a cachePoint.
- response_format json_schema / json_object: on models that accept a forced tool choice (Claude 3+, Mistral
  Large, unknown models) the schema becomes a tool the model must call (`ConverseCall.json_tool`), whose
  input `from_converse` / `StreamTranslator` return as the message content; elsewhere, and for non-object
  schemas, an instruction (with the schema) goes into the system prompt or the first user turn. With client
  tools too, the choice becomes "any": the model calls one of them or answers through the json tool.
- Mistral Large takes toolChoice "any" but not "tool": a named tool_choice (and the json tool) is sent as
  "any" with only that tool declared, which forces the same call.
- A stream with tools on a model that cannot stream tool use (Llama, Mistral) is flagged
  `ConverseCall.buffered_stream`: call Converse, then replay it with `streaming.chunks_from_converse`.
- Reasoning (`ChatRequest.reasoning`) is mapped per model into additionalModelRequestFields: a thinking
  budget on models that take one, adaptive thinking on models that take it (a budget request becomes adaptive
  on models that refuse budgets; an adaptive request gets a budget of half the answer on models without
  adaptive), effort as `output_config.effort` where the model takes it. What a model cannot take is left out
  and named in `ConverseCall.dropped`. Reasoning blocks of earlier turns go back as reasoningContent, with
  their signature, to models with extended thinking; others get the turn without them.
- `ChatRequest.clamp_max_tokens`: a max_tokens above the model's output limit is lowered to it (a client
  such as Claude Code always sends its own ceiling) instead of failing.
- The body of one ChatRequest can be built again for another deployment (retries, fallbacks): to_converse
  never mutates the request.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import orjson

from bedrock_proxy.bedrock.capabilities import ModelCapabilities, capabilities_for
from bedrock_proxy.bedrock.features import bedrock_features, inject_cache_points, strip_cache_ttls
from bedrock_proxy.bedrock.reasoning import check_thinking_compatible, reasoning_fields
from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.request import (
    CacheMark,
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Reasoning,
    ReasoningMode,
    ReasoningPart,
    RemoteImagePart,
    TextPart,
    ToolChoiceMode,
)
from bedrock_proxy.chat.usage import Usage, estimate_tokens
from bedrock_proxy.config.schema import NO_FEATURES, BedrockFeatures
from bedrock_proxy.errors import GatewayError, invalid_request

__all__ = [
    "ConverseCall",
    "from_converse",
    "to_converse",
    "usage_from_converse",
]

_TOOL_USE_ID = re.compile(r"[a-zA-Z0-9_.:-]{1,64}")
_TOOL_USE_ID_BAD = re.compile(r"[^a-zA-Z0-9_.:-]")
_OPENING_USER_TURN = "."
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "model_context_window_exceeded": "length",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}
_JSON_OBJECT_INSTRUCTION = (
    "Answer with exactly one JSON object and nothing else: no prose, no code fences, no text around it."
)


@dataclass(frozen=True, slots=True)
class ConverseCall:
    body: dict[str, Any]  # Converse JSON body (modelId goes in the path), ready for orjson
    json_tool: str | None  # forced tool that carries a response_format answer
    params: dict[str, Any]  # model parameters actually sent, with OpenAI names, for observability
    # The request streams tools to a model that cannot stream tool use: call Converse and replay the answer
    # as chunks (streaming.chunks_from_converse).
    buffered_stream: bool = False
    # What drop_params removed or changed for this model, in OpenAI names (`temperature` when it was clamped,
    # `tool_choice` when 'required' became 'auto'): the client sees it in x-bedrock-proxy-dropped-params.
    dropped: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------------------------------
# to_converse


def to_converse(
    request: ChatRequest,
    *,
    model_id: str,
    defaults: dict[str, Any],
    drop_params: bool,
    images: dict[str, tuple[str, bytes]],
    features: BedrockFeatures = NO_FEATURES,
) -> ConverseCall:
    """The Converse body for `model_id`; raises a 400 for anything this model cannot take."""
    caps = capabilities_for(model_id)
    params: dict[str, Any] = {}
    dropped: list[str] = []
    messages, tools_cache = inject_cache_points(request, features.cache_injection)
    system, turns, tool_history_names = _conversation(messages, caps, model_id, images)
    body: dict[str, Any] = {}

    inference = _inference_config(request, caps, defaults, drop_params, params, dropped)
    dropped += _unsupported(request, drop_params)
    additional: dict[str, Any] = {}
    reasoning = request.reasoning or _default_reasoning(defaults)
    if reasoning is not None:
        reasoning_fields(reasoning, caps, model_id, drop_params, inference, additional, params, dropped)
    top_k = request.top_k if request.top_k is not None else defaults.get("top_k")
    if top_k is not None:
        if caps.top_k:
            additional["top_k"] = top_k
            params["top_k"] = top_k
        elif not drop_params:
            raise invalid_request(
                f"'top_k' is not supported by model {model_id}: remove it or set drop_params: true.", "top_k"
            )
        else:
            dropped.append("top_k")

    tool_config, json_tool = _tool_config(
        request, caps, model_id, drop_params, tool_history_names, system, params, dropped, tools_cache
    )
    if "thinking" in additional:
        check_thinking_compatible(additional, inference, tool_config, json_tool, drop_params, params, dropped)

    if system and not caps.system_prompt:
        # This model has no system prompt (Titan Text, Mistral 7B, Mixtral): its text goes first in the
        # first user turn, which is where these models' own prompt templates put instructions.
        _fold_system(system, turns)
        system = []
    if not turns:
        if not system:
            raise invalid_request(
                "'messages' has no text to answer: send at least one user message with content.", "messages"
            )
        turns = [{"role": "user", "content": [b for b in system if "text" in b]}]
        system = []
    if turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"text": _OPENING_USER_TURN}]})
    _trim_final_assistant(turns)

    body["messages"] = turns
    if system:
        body["system"] = system
    if inference:
        body["inferenceConfig"] = inference
    if tool_config:
        body["toolConfig"] = tool_config
    if additional:
        body["additionalModelRequestFields"] = additional
    body.update(bedrock_features(request, features, params))
    if not caps.cache_1h and strip_cache_ttls(body):
        dropped.append("cache_control.ttl")
    buffered = bool(request.stream and tool_config and not caps.streaming_tools)
    return ConverseCall(
        body=body, json_tool=json_tool, params=params, buffered_stream=buffered, dropped=tuple(dropped)
    )


def _conversation(
    messages: list[Message], caps: ModelCapabilities, model_id: str, images: dict[str, tuple[str, bytes]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """System blocks, merged user/assistant turns, and the tool names used in the history."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    tool_names: list[str] = []
    last_legacy_id = ""
    for message in messages:
        role = message.role
        if role == "system":
            for part in message.parts:
                if type(part) is TextPart and part.text.strip():  # a client API gives system text parts only
                    system.append({"text": part.text})
                    if part.cache:
                        system.append(_cache_point(part.cache))
            if message.cache and system and "text" in system[-1]:
                system.append(_cache_point(message.cache))
            continue
        blocks: list[dict[str, Any]] = []
        if role == "tool":
            if not caps.tools:
                raise _no_tools(model_id, message.param)
            call_id = message.tool_call_id or last_legacy_id
            if not call_id:
                raise invalid_request(
                    f"'{message.param}' is a function result without a preceding assistant function_call.",
                    message.param,
                )
            blocks.append(_tool_result(call_id, message.parts, message.tool_error, images))
            role = "user"
        else:
            for part in message.parts:
                _append_part(blocks, part, caps, model_id, images)
            for call in message.tool_calls:
                if not caps.tools:
                    raise _no_tools(model_id, f"{message.param}.tool_calls")
                if call.id.startswith("call_fn_"):
                    last_legacy_id = call.id
                tool_names.append(call.name)
                blocks.append(
                    {
                        "toolUse": {
                            "toolUseId": _tool_use_id(call.id),
                            "name": call.name,
                            "input": call.arguments,
                        }
                    }
                )
        if not blocks:
            continue
        if message.cache:
            blocks.append(_cache_point(message.cache))
        if turns and turns[-1]["role"] == role:
            content = turns[-1]["content"]
            content.extend(blocks)
            if role == "user" and "toolResult" in blocks[0] and "toolResult" not in content[0]:
                # Claude wants a turn's tool results before any text: keep their order, move them first.
                content.sort(key=lambda b: "toolResult" not in b)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns, tool_names


def _append_part(
    blocks: list[dict[str, Any]],
    part: Part,
    caps: ModelCapabilities,
    model_id: str,
    images: dict[str, tuple[str, bytes]],
) -> None:
    if type(part) is TextPart:
        if not part.text.strip():
            return
        blocks.append({"text": part.text})
    elif type(part) is ReasoningPart:
        if not caps.thinking:
            return  # a model without extended thinking gets the turn without its reasoning
        blocks.append(_reasoning_block(part))
    elif type(part) is DocumentPart:
        if not caps.documents:
            raise invalid_request(
                f"Model {model_id} does not accept documents: remove the document or use a model that reads"
                " them (Claude 3+, Nova, Llama 3.1+).",
                part.param,
            )
        document = {"format": part.format, "name": part.name, "source": {"bytes": part.data}}
        blocks.append({"document": document})
    elif type(part) is ImagePart or type(part) is RemoteImagePart:
        if not caps.images:
            raise invalid_request(
                f"Model {model_id} does not accept images: remove the image part or use a vision model.",
                part.param,
            )
        if type(part) is ImagePart:
            blocks.append({"image": {"format": part.format, "source": {"bytes": part.data}}})
        elif type(part) is RemoteImagePart:
            blocks.append({"image": _remote_image(part.url, part.param, images)})
    if part.cache:
        blocks.append(_cache_point(part.cache))


def _remote_image(url: str, param: str, images: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
    fetched = images.get(url)
    if fetched is None:
        raise invalid_request(
            f"'{param}': the image at {url[:200]} could not be fetched; send it as a data URL.", param
        )
    image_format, data = fetched  # the fetcher already checked the bytes are an image
    return {"format": image_format, "source": {"bytes": base64.b64encode(data).decode("ascii")}}


def _reasoning_block(part: ReasoningPart) -> dict[str, Any]:
    """An earlier turn's reasoning, exactly as the model gave it (Claude checks the signature)."""
    if part.redacted is not None:
        return {"reasoningContent": {"redactedContent": part.redacted}}
    text: dict[str, Any] = {"text": part.text}
    if part.signature is not None:
        text["signature"] = part.signature
    return {"reasoningContent": {"reasoningText": text}}


def _tool_result(
    call_id: str, parts: list[Part], error: bool = False, images: dict[str, tuple[str, bytes]] | None = None
) -> dict[str, Any]:
    status = "error" if error else "success"
    if any(type(part) is not TextPart for part in parts):
        # images (and text) returned by a tool: each part its own block, in order
        blocks: list[dict[str, Any]] = []
        for part in parts:
            if type(part) is TextPart:
                if part.text.strip():
                    blocks.append({"text": part.text})
            elif type(part) is ImagePart:
                blocks.append({"image": {"format": part.format, "source": {"bytes": part.data}}})
            elif type(part) is RemoteImagePart:
                blocks.append({"image": _remote_image(part.url, part.param, images or {})})
            elif type(part) is DocumentPart:
                document = {"format": part.format, "name": part.name, "source": {"bytes": part.data}}
                blocks.append({"document": document})
        return {
            "toolResult": {
                "toolUseId": _tool_use_id(call_id),
                "content": blocks or [{"text": "(no output)"}],
                "status": status,
            }
        }
    text = "".join(part.text for part in parts if type(part) is TextPart)
    content: list[dict[str, Any]]
    parsed = None
    if text[:1] == "{":
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
    if isinstance(parsed, dict):
        content = [{"json": parsed}]
    else:
        content = [{"text": text if text.strip() else "(no output)"}]
    return {"toolResult": {"toolUseId": _tool_use_id(call_id), "content": content, "status": status}}


def _cache_point(mark: CacheMark = True) -> dict[str, Any]:
    """A cachePoint block; a fresh dict each time: bodies never share mutable parts. Only "1h" is sent as a
    TTL (five minutes is Bedrock's default, and older models refuse any ttl)."""
    if mark == "1h":
        return {"cachePoint": {"type": "default", "ttl": "1h"}}
    return {"cachePoint": {"type": "default"}}


def _tool_use_id(call_id: str) -> str:
    if _TOOL_USE_ID.fullmatch(call_id):
        return call_id
    return _TOOL_USE_ID_BAD.sub("_", call_id)[:64] or "call"


def _no_tools(model_id: str, param: str) -> GatewayError:
    return invalid_request(
        f"Model {model_id} does not support tool use through Bedrock: remove '{param}' or use a model"
        " with tools (Claude 3+, Llama 3.1+, Mistral Large).",
        param,
    )


def _fold_system(system: list[dict[str, Any]], turns: list[dict[str, Any]]) -> None:
    text = "\n\n".join(b["text"] for b in system if "text" in b)
    first = turns[0] if turns else None
    if first is None or first["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"text": text}]})
    elif "text" in first["content"][0]:
        first["content"][0] = {"text": f"{text}\n\n{first['content'][0]['text']}"}
    else:
        first["content"].insert(0, {"text": text})


def _trim_final_assistant(turns: list[dict[str, Any]]) -> None:
    last = turns[-1]
    if last["role"] != "assistant" or "text" not in last["content"][-1]:
        return
    text = last["content"][-1]["text"].rstrip()
    if text:
        last["content"][-1] = {"text": text}
    else:
        last["content"].pop()
        if not last["content"]:
            turns.pop()


def _default_stop(value: object) -> list[str] | None:
    """A deployment's `stop` default (a string or a list of strings in litellm_params) as stop sequences."""
    if isinstance(value, str):
        return [value] if value else None
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s][:4] or None
    return None


def _inference_config(
    request: ChatRequest,
    caps: ModelCapabilities,
    defaults: dict[str, Any],
    drop_params: bool,
    params: dict[str, Any],
    dropped: list[str],
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = request.max_tokens
    if max_tokens is None:
        max_tokens = defaults.get("max_completion_tokens", defaults.get("max_tokens"))
    if max_tokens is not None:
        ceiling = caps.max_output_tokens
        if request.clamp_max_tokens and ceiling and max_tokens > ceiling:
            max_tokens = ceiling
            dropped.append("max_tokens")
        config["maxTokens"] = max_tokens
        params["max_tokens"] = max_tokens
    temperature = request.temperature if request.temperature is not None else defaults.get("temperature")
    if temperature is not None:
        if temperature > 1:
            if not drop_params:
                raise invalid_request(
                    f"'temperature' {temperature} is above 1, the maximum Bedrock accepts: send a value"
                    " between 0 and 1, or set drop_params: true to clamp it to 1.",
                    "temperature",
                )
            temperature = 1
            dropped.append("temperature")
        config["temperature"] = temperature
        params["temperature"] = temperature
    top_p = request.top_p if request.top_p is not None else defaults.get("top_p")
    if top_p is not None:
        config["topP"] = top_p
        params["top_p"] = top_p
    stop = request.stop if request.stop is not None else _default_stop(defaults.get("stop"))
    if stop:
        config["stopSequences"] = stop
        params["stop"] = stop
    return config


def _default_reasoning(defaults: dict[str, Any]) -> Reasoning | None:
    """A deployment's default reasoning (litellm_params `reasoning_effort` and LiteLLM's `thinking`, checked
    at start-up), for requests that ask for none; a model without reasoning drops it, named, rather than
    failing every request. With both, the thinking says how (a budget, adaptive) and the effort how hard."""
    effort = defaults.get("reasoning_effort")
    effort = effort if isinstance(effort, str) and effort != "none" else None
    thinking = defaults.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return None
    if kind == "enabled":
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        return Reasoning(ReasoningMode.ENABLED, budget, effort, param="thinking", refuse=False)
    if kind == "adaptive":
        return Reasoning(ReasoningMode.ADAPTIVE, effort=effort, param="thinking", refuse=False)
    if effort is None:
        return None
    return Reasoning(ReasoningMode.ENABLED, effort=effort, param="reasoning_effort", refuse=False)


def _unsupported(request: ChatRequest, drop_params: bool) -> list[str]:
    """Parameters Converse cannot carry for these models: a 400 naming the first, or under drop_params the
    names dropped. Neutral values pass (SDKs send them by default)."""
    offending = (
        ("presence_penalty", bool(request.presence_penalty)),
        ("frequency_penalty", bool(request.frequency_penalty)),
        ("logit_bias", bool(request.logit_bias)),
        ("logprobs", request.logprobs),
        ("top_logprobs", bool(request.top_logprobs)),
        ("seed", request.seed is not None),
    )
    present = [name for name, sent in offending if sent]
    if present and not drop_params:
        raise invalid_request(
            f"'{present[0]}' is not supported by Bedrock Converse: remove it, or set drop_params: true"
            " (litellm_settings) to have the gateway drop it.",
            present[0],
        )
    return present


def _tool_config(
    request: ChatRequest,
    caps: ModelCapabilities,
    model_id: str,
    drop_params: bool,
    history_names: list[str],
    system: list[dict[str, Any]],
    params: dict[str, Any],
    dropped: list[str],
    tools_cache: CacheMark = False,
) -> tuple[dict[str, Any] | None, str | None]:
    tools = request.tools or []
    mode = request.tool_choice.mode if request.tool_choice is not None else None
    name = request.tool_choice.name if request.tool_choice is not None else None
    if tools and not caps.tools:
        if mode is not ToolChoiceMode.NONE:
            raise _no_tools(model_id, "tools")
        tools = []  # tools the client said not to use: nothing to send to a model without tools
    specs = [s for t in tools for s in _tool_spec(t.name, t.description, t.parameters, t.cache)]
    if tools_cache and specs and "cachePoint" not in specs[-1]:
        specs.append(_cache_point(tools_cache))  # cache_control_injection_points: location tool_config
    if mode in (ToolChoiceMode.REQUIRED, ToolChoiceMode.TOOL) and not caps.tool_choice_any:
        if not drop_params:
            sent = "'required'" if mode is ToolChoiceMode.REQUIRED else "'function'"
            raise invalid_request(
                f"Model {model_id} cannot be forced to call a tool (tool_choice {sent}): send tool_choice"
                " 'auto', or set drop_params: true to fall back to 'auto'.",
                "tool_choice",
            )
        mode, name = ToolChoiceMode.AUTO, None
        dropped.append("tool_choice")

    json_tool = None
    json_answer = False  # the forced tool is the json answer tool, not one of the client's
    if request.response_format != "text":
        schema = request.json_schema if request.response_format == "json_schema" else {"type": "object"}
        object_schema = schema if isinstance(schema, dict) and _is_object_schema(schema) else None
        if caps.tools and caps.tool_choice_any and object_schema is not None:
            json_tool = request.json_schema_name or "json_object"
            if any(t.name == json_tool for t in tools):
                raise invalid_request(
                    f"'response_format.json_schema.name' {json_tool!r} is also a tool name:"
                    " rename one of them.",
                    "response_format.json_schema.name",
                )
            specs.extend(
                _tool_spec(
                    json_tool,
                    "Give the final answer as this tool's input; it must match the schema.",
                    object_schema,
                )
            )
            if mode not in (ToolChoiceMode.REQUIRED, ToolChoiceMode.TOOL):
                # With the client's own tools the model may call those or answer through the json tool.
                if tools and mode is not ToolChoiceMode.NONE:
                    mode = ToolChoiceMode.REQUIRED
                else:
                    mode, name, json_answer = ToolChoiceMode.TOOL, json_tool, True
        else:
            instruction = _JSON_OBJECT_INSTRUCTION
            if request.response_format == "json_schema":
                instruction += " It must match this JSON Schema: " + orjson.dumps(schema).decode()
            system.append({"text": instruction})
        params["response_format"] = request.response_format

    if not specs and history_names:
        # Converse refuses toolUse/toolResult blocks without a toolConfig: declare the names used.
        seen = dict.fromkeys(history_names)
        specs = [{"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object"}}}} for n in seen]
        mode = None
    if not specs:
        return None, None
    if mode is ToolChoiceMode.NONE and not history_names:
        return None, None
    if mode is None or mode is ToolChoiceMode.NONE:
        recorded = None
    elif mode is ToolChoiceMode.TOOL:
        recorded = "json" if json_answer else name
    else:
        recorded = mode.value
    if mode is ToolChoiceMode.TOOL and not caps.tool_choice_tool:
        # This model takes toolChoice "any" but not "tool" (Mistral Large): declaring only the chosen tool
        # and requiring "any" forces exactly that one, which is what the client asked for.
        specs = _only_tool(specs, name)
        mode = ToolChoiceMode.REQUIRED
    config: dict[str, Any] = {"tools": specs}
    if mode is ToolChoiceMode.AUTO:
        config["toolChoice"] = {"auto": {}}
    elif mode is ToolChoiceMode.REQUIRED:
        config["toolChoice"] = {"any": {}}
    elif mode is ToolChoiceMode.TOOL:
        config["toolChoice"] = {"tool": {"name": name}}
    if recorded is not None:
        params["tool_choice"] = recorded
    return config, json_tool


def _only_tool(specs: list[dict[str, Any]], name: str | None) -> list[dict[str, Any]]:
    """The spec of tool `name`, with the cache point that follows it if any."""
    kept: list[dict[str, Any]] = []
    keep = False
    for spec in specs:
        if "toolSpec" in spec:
            keep = spec["toolSpec"]["name"] == name
            if keep:
                kept.append(spec)
        elif keep and "cachePoint" in spec:
            kept.append(spec)
    return kept


def _tool_spec(
    name: str, description: str | None, parameters: dict[str, Any], cache: CacheMark = False
) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": parameters}}
    if description:
        spec["description"] = description
    return [{"toolSpec": spec}, _cache_point(cache)] if cache else [{"toolSpec": spec}]


def _is_object_schema(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (kind is None and "properties" in schema)


# ----------------------------------------------------------------------------------------------------------
# from_converse


def usage_from_converse(usage: dict[str, Any] | None, reasoning: str = "") -> Usage:
    """The gateway's Usage from Converse usage; prompt tokens include cache reads and writes (all input).
    Bedrock does not count reasoning tokens apart: they are estimated from the `reasoning` text."""
    usage = usage or {}
    cache_read = usage.get("cacheReadInputTokens") or 0
    cache_write = usage.get("cacheWriteInputTokens") or 0
    completion = usage.get("outputTokens") or 0
    return Usage(
        prompt_tokens=(usage.get("inputTokens") or 0) + cache_read + cache_write,
        completion_tokens=completion,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=min(estimate_tokens(reasoning), completion) if reasoning else 0,
        cache_write_1h_tokens=_one_hour_writes(usage.get("cacheDetails")),
    )


def _one_hour_writes(details: Any) -> int:
    """The cache writes with a one-hour TTL, from Converse's cacheDetails ([{ttl, inputTokens}])."""
    if not isinstance(details, list):
        return 0
    return sum(d.get("inputTokens") or 0 for d in details if isinstance(d, dict) and d.get("ttl") == "1h")


def guardrail_trace_of(response: dict[str, Any]) -> dict[str, Any] | None:
    """The guardrail's assessment Bedrock returns when the guardrailConfig's trace is enabled (Converse
    response or stream metadata: `trace.guardrail`)."""
    trace = response.get("trace")
    guardrail = trace.get("guardrail") if isinstance(trace, dict) else None
    return guardrail if isinstance(guardrail, dict) else None


def service_tier_of(response: dict[str, Any]) -> str | None:
    """The service tier Bedrock says served the call (Converse response or stream metadata)."""
    tier = response.get("serviceTier")
    value = tier.get("type") if isinstance(tier, dict) else None
    return value if isinstance(value, str) else None


def finish_reason_for(stop_reason: str | None, tool_calls: bool = True) -> str:
    """The finish reason for a Converse stop reason. `tool_use` with no client tool call left (only the
    json answer tool was called) is "stop": there is nothing for the client to run."""
    finish = _FINISH_REASONS.get(stop_reason or "end_turn", "stop")
    return "stop" if finish == "tool_calls" and not tool_calls else finish


def from_converse(response: dict[str, Any], *, json_tool: str | None) -> ChatAnswer:
    """The gateway's answer for a Converse response (a client API renders it)."""
    blocks = ((response.get("output") or {}).get("message") or {}).get("content") or []
    texts: list[str] = []
    reasoning: list[str] = []
    reasoning_parts: list[ReasoningPart] = []
    tool_calls: list[AnswerToolCall] = []
    json_answer: str | None = None
    for block in blocks:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input") or {}).decode()
            if json_tool is not None and use.get("name") == json_tool:
                json_answer = arguments
                continue
            tool_calls.append(AnswerToolCall(use.get("toolUseId", ""), use.get("name", ""), arguments))
        elif "reasoningContent" in block:
            content = block["reasoningContent"]
            if "redactedContent" in content:
                reasoning_parts.append(ReasoningPart("", redacted=content["redactedContent"]))
                continue
            reasoning_text = content.get("reasoningText") or {}
            text = reasoning_text.get("text")
            if text:
                reasoning.append(text)
            reasoning_parts.append(ReasoningPart(text or "", signature=reasoning_text.get("signature")))
    finish = finish_reason_for(response.get("stopReason"), bool(tool_calls))
    answer_text: str | None
    if json_answer is not None:
        answer_text = json_answer
        if not tool_calls:
            finish = "stop"
    elif texts:
        answer_text = "".join(texts)
    else:
        answer_text = None if tool_calls else ""
    reasoning_text = "".join(reasoning)
    return ChatAnswer(
        answer_text,
        tool_calls,
        reasoning_text or None,
        finish,
        usage_from_converse(response.get("usage"), reasoning_text),
        reasoning_parts,
        stop_sequence_of(response.get("additionalModelResponseFields")),
        service_tier_of(response),
        guardrail_trace_of(response),
    )


def stop_sequence_of(fields: Any) -> str | None:
    """The stop sequence that ended the answer, which Claude reports in additionalModelResponseFields."""
    value = fields.get("stop_sequence") if isinstance(fields, dict) else None
    return value if isinstance(value, str) else None
