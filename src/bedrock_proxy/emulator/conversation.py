"""Converse requests: Bedrock's validation (shape, roles, limits, per-model capabilities) and the answer.

The answer is computed once as an `Answer` (content blocks, stop reason, token counts); converse.py and the
native formats only render it, so every operation agrees on text and usage for the same prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_proxy.emulator import errors
from bedrock_proxy.emulator.catalogue import ModelSpec
from bedrock_proxy.emulator.controls import MARKER_TEXT, take_marker
from bedrock_proxy.emulator.errors import constraint, validation
from bedrock_proxy.emulator.request_features import NO_FEATURES, RequestFeatures, echoed, read_features
from bedrock_proxy.emulator.textgen import complete, estimate_tokens, reply_text
from bedrock_proxy.emulator.thinking import (
    check_reasoning_block,
    check_tool_turn_starts_with_thinking,
    reasoning_block,
    thinking_requested,
)
from bedrock_proxy.emulator.toolgen import build_arguments, select_tools, tool_use_id

_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
_DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})
_KNOWN_BLOCKS = frozenset(
    {
        "text",
        "image",
        "document",
        "video",
        "audio",
        "toolUse",
        "toolResult",
        "guardContent",
        "cachePoint",
        "reasoningContent",
        "citationsContent",
        "searchResult",
    }
)
_IMAGE_TOKENS = 1600  # a flat estimate per image, like a ~1 megapixel picture on Claude


@dataclass(slots=True)
class Turn:
    """A validated request, reduced to what the emulated model needs."""

    prompt: str  # text of the last user message (markers already removed)
    input_tokens: int
    max_tokens: int | None
    stop_sequences: list[str]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    tool_results: list[str] = field(default_factory=list)  # results in the last user message
    marker: str | None = None  # `[[emu:...]]` controls found in the last user message
    thinking: bool = False  # additionalModelRequestFields.thinking asked for reasoning
    # (key, tokens, ttl) per cachePoint
    cache_prefixes: list[tuple[str, int, str]] = field(default_factory=list)
    features: RequestFeatures = NO_FEATURES  # serviceTier, performanceConfig, guardrailConfig


@dataclass(slots=True)
class Answer:
    """What the emulated model says: content blocks in Converse shape, why it stopped, token counts."""

    blocks: list[dict[str, Any]]
    stop_reason: str
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    cache_read: int = 0  # of input_tokens, read from the prompt cache
    cache_write: int = 0  # of input_tokens, written to the prompt cache
    cache_write_1h: int = 0  # of cache_write, written with a one-hour TTL
    echo: dict[str, Any] = field(default_factory=dict)  # serviceTier / performanceConfig, as Bedrock reports

    @property
    def text(self) -> str:
        return "".join(block.get("text", "") for block in self.blocks)


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def count_input_tokens(body: dict[str, Any]) -> int:
    """Token estimate of a Converse-shaped input (messages, system, tools), used for usage and CountTokens."""
    total = 0
    for block in body.get("system") or []:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            total += estimate_tokens(block["text"])
    for message in body.get("messages") or []:
        for block in message.get("content") or [] if isinstance(message, dict) else []:
            if not isinstance(block, dict):
                continue
            if "text" in block:
                total += estimate_tokens(_text_of(block["text"]))
            elif "image" in block:
                total += _IMAGE_TOKENS
            elif "toolUse" in block:
                total += estimate_tokens(_text_of(block["toolUse"]))
            elif "toolResult" in block:
                total += estimate_tokens(_text_of(block["toolResult"].get("content", [])))
            elif "document" in block:
                total += 500
    tool_config = body.get("toolConfig")
    if isinstance(tool_config, dict) and tool_config.get("tools"):
        total += estimate_tokens(_text_of(tool_config["tools"]))
    return max(total, 1)


def validate(body: Any, spec: ModelSpec, streaming: bool) -> Turn:
    """Refuse what Bedrock refuses for this model, with Bedrock's wording; else the reduced request."""
    if not isinstance(body, dict):
        raise errors.malformed()
    if spec.is_embedding:
        raise validation(errors.NOT_A_CHAT_MODEL)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation(errors.FIRST_USER)
    previous = None
    uses_tools = False
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise errors.malformed()
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise constraint(
                f"messages.{index + 1}.member.role", role, "satisfy enum value set: [user, assistant]"
            )
        if index == 0 and role != "user":
            raise validation(errors.FIRST_USER)
        if role == previous:
            raise validation(errors.ALTERNATE)
        previous = role
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise validation(
                f"The content field in the Message object at messages.{index} is empty. Add a ContentBlock"
                " object to the content field and try again."
            )
        for block in content:
            uses_tools |= _check_block(block, spec, role)
    system = body.get("system")
    if system is not None and not isinstance(system, list):
        raise errors.malformed()
    if system and not spec.system:
        raise validation(errors.NO_SYSTEM)
    max_tokens, stop_sequences = _inference_config(body.get("inferenceConfig"), spec)
    tools, tool_choice = _tool_config(body.get("toolConfig"), spec, streaming, uses_tools)
    last = (
        messages[-1]
        if messages[-1]["role"] == "user"
        else (messages[-2] if len(messages) > 1 else messages[0])
    )
    prompt = _prompt_of(last["content"])
    prompt, marker = take_marker(prompt) if MARKER_TEXT in prompt else (prompt, None)
    tool_results = [
        _text_of(b["toolResult"].get("content", []))
        for b in last["content"]
        if isinstance(b, dict) and isinstance(b.get("toolResult"), dict)
    ]
    thinking = thinking_requested(body.get("additionalModelRequestFields"), spec.model_id, max_tokens)
    if thinking:
        check_tool_turn_starts_with_thinking(messages)
    return Turn(
        prompt,
        count_input_tokens(body),
        max_tokens,
        stop_sequences,
        tools,
        tool_choice,
        tool_results,
        marker,
        thinking,
        features=read_features(body),
    )


def _prompt_of(content: list[Any]) -> str:
    """The text of a user turn as the model reads it: the user's words, without the reminders a coding
    agent adds around them (Claude Code's `<system-reminder>` blocks), unless there is nothing else."""
    texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    typed = [t for t in texts if not _is_reminder(t)]
    return " ".join(typed or texts)


def _is_reminder(text: str) -> bool:
    text = text.strip()
    return text.startswith("<system-reminder>") and text.endswith("</system-reminder>")


def _check_block(block: Any, spec: ModelSpec, role: str) -> bool:
    """Validate one content block; True when it is a tool block."""
    if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in _KNOWN_BLOCKS:
        raise validation(
            "The model returned the following errors: content block must contain exactly one known member"
            if isinstance(block, dict) and len(block) > 1
            else "Malformed input request: unknown or empty content block, please reformat your input and try"
            " again."
        )
    kind, value = next(iter(block.items()))
    if kind == "text":
        if not isinstance(value, str):
            raise errors.malformed()
        return False
    if kind == "image":
        if not spec.images:
            raise validation(errors.unsupported_block("image"))
        if role != "user":
            raise validation("Images are only supported in user messages. Remove the image and try again.")
        if not isinstance(value, dict) or value.get("format") not in _IMAGE_FORMATS:
            raise constraint(
                "image.format", (value or {}).get("format"), "satisfy enum value set: [png, jpeg, gif, webp]"
            )
        return False
    if kind == "document":
        if not spec.images:
            raise validation(errors.unsupported_block("document"))
        if not isinstance(value, dict) or value.get("format") not in _DOCUMENT_FORMATS:
            raise constraint(
                "document.format",
                (value or {}).get("format"),
                "satisfy enum value set: [pdf, csv, doc, docx, xls, xlsx, html, txt, md]",
            )
        return False
    if kind in ("video", "audio", "citationsContent", "searchResult", "reasoningContent") and not spec.images:
        raise validation(errors.unsupported_block(kind))
    if kind == "reasoningContent":
        check_reasoning_block(value)
    if kind in ("toolUse", "toolResult"):
        if not spec.tools:
            raise validation(errors.NO_TOOLS)
        if not isinstance(value, dict) or not isinstance(value.get("toolUseId"), str):
            raise errors.malformed()
        return True
    return False


def _inference_config(config: Any, spec: ModelSpec) -> tuple[int | None, list[str]]:
    if config is None:
        return spec.max_output or None, []
    if not isinstance(config, dict):
        raise errors.malformed()
    max_tokens = config.get("maxTokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise constraint("inferenceConfig.maxTokens", max_tokens, "have value greater than or equal to 1")
        if spec.max_output and max_tokens > spec.max_output:
            raise validation(errors.max_tokens_exceeded(spec.max_output))
    for key in ("temperature", "topP"):
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or value < 0:
            raise constraint(f"inferenceConfig.{key}", value, "have value greater than or equal to 0")
        if value > 1:
            raise constraint(f"inferenceConfig.{key}", value, "have value less than or equal to 1")
    stops = config.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise errors.malformed()
    return (max_tokens if max_tokens is not None else spec.max_output or None), stops


def _tool_config(
    config: Any, spec: ModelSpec, streaming: bool, uses_tools: bool
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if config is None:
        if uses_tools:
            raise validation(
                "The toolConfig field must be defined when using toolUse and toolResult content blocks."
            )
        return [], None
    if not isinstance(config, dict) or not isinstance(config.get("tools"), list):
        raise errors.malformed()
    if not spec.tools:
        raise validation(errors.NO_TOOLS)
    if streaming and not spec.stream_tools:
        raise validation(errors.NO_STREAM_TOOLS)
    tools = config["tools"]
    if not tools:
        raise constraint("toolConfig.tools", "[]", "have length greater than or equal to 1")
    names = set()
    for index, tool in enumerate(tools):
        tool_spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if tool_spec is None:
            continue  # cachePoint / systemTool entries
        name = tool_spec.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise constraint(
                f"toolConfig.tools.{index + 1}.member.toolSpec.name",
                name,
                "satisfy regular expression pattern: [a-zA-Z0-9_-]+",
            )
        schema = tool_spec.get("inputSchema")
        if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
            raise errors.malformed()
        names.add(name)
    choice = config.get("toolChoice")
    if choice is not None:
        if not isinstance(choice, dict) or len(choice) != 1:
            raise errors.malformed()
        kind = next(iter(choice))
        if kind not in spec.tool_choices:
            raise validation(errors.tool_choice_unsupported(kind))
        if kind == "tool" and (choice["tool"] or {}).get("name") not in names:
            raise validation(
                f"The tool {choice['tool'].get('name')!r} named in toolConfig.toolChoice.tool is not in"
                " toolConfig.tools. Add the tool or change toolChoice and try again."
            )
    return tools, choice


def answer(turn: Turn, words: int | None = None, tool: str | None = None) -> Answer:
    """The emulated model's reply to a validated turn; `tool`: the one tool to call (a marker asked)."""
    result = _answer(turn, words, tool)
    result.echo = echoed(turn.features)
    if turn.thinking:
        block = reasoning_block(turn.prompt)
        result.blocks.insert(0, block)
        result.output_tokens += estimate_tokens(block["reasoningContent"]["reasoningText"]["text"])
    return result


def _answer(turn: Turn, words: int | None, tool: str | None) -> Answer:
    if turn.tool_results:
        text = "The tool returned: " + " ".join(turn.tool_results)
        return _text_answer(turn, text if words is None else reply_text(text, words))
    if turn.tools:
        if tool is not None:
            chosen = [t["toolSpec"] for t in turn.tools if (t.get("toolSpec") or {}).get("name") == tool]
        else:
            chosen = select_tools(turn.tools, turn.prompt, turn.tool_choice)
        if chosen:
            blocks = [
                {
                    "toolUse": {
                        "toolUseId": tool_use_id(turn.prompt, index),
                        "name": spec["name"],
                        "input": build_arguments(spec["inputSchema"]["json"], turn.prompt, tool is not None),
                    }
                }
                for index, spec in enumerate(chosen)
            ]
            output = sum(estimate_tokens(orjson.dumps(b["toolUse"]).decode()) for b in blocks)
            return Answer(blocks, "tool_use", turn.input_tokens, output)
    return _text_answer(turn, reply_text(turn.prompt, words))


def _text_answer(turn: Turn, text: str) -> Answer:
    done = complete(text, turn.max_tokens, turn.stop_sequences)
    return Answer([{"text": done.text}], done.stop_reason, turn.input_tokens, done.tokens, done.stop_sequence)


def filtered_answer(turn: Turn, stop_reason: str) -> Answer:
    """What a guardrail intervention or a content filter returns instead of the model's answer."""
    text = errors.BLOCKED_TEXT if stop_reason == "guardrail_intervened" else ""
    result = Answer([{"text": text}], stop_reason, turn.input_tokens, estimate_tokens(text))
    result.echo = echoed(turn.features, intervened=stop_reason == "guardrail_intervened")
    return result
