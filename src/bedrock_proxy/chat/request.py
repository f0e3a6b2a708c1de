"""ChatRequest: a chat request in the gateway's own terms, checked, whichever client API sent it.

A client API fills it (`bedrock_proxy.openai.chat_request.parse_chat_request` for OpenAI's chat
completions); a provider reads it (`bedrock_proxy.bedrock.translate.to_converse`). Message content is a list
of small frozen parts, tool choice a `ToolChoice`: no positional tuples, no magic strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, final

# ----------------------------------------------------------------------------------------------------------
# Message parts. `cache` marks a prompt-cache point after the part: True for the default TTL, or the TTL the
# client asked for ("5m", "1h"); `param` names the client's field, for errors found later (a model that takes
# no images, an image URL that could not be fetched).

CacheMark = bool | str  # False: no cache point; True: one with the default TTL; "5m" / "1h": with that TTL


@final
@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    cache: CacheMark = False


@final
@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image sent inline: its real format (sniffed from the bytes) and its base64 data."""

    format: str  # png | jpeg | gif | webp
    data: str  # base64
    param: str
    cache: CacheMark = False


@final
@dataclass(frozen=True, slots=True)
class RemoteImagePart:
    """An image by http(s) URL: the server fetches it before translation (Converse takes only bytes)."""

    url: str
    param: str
    cache: CacheMark = False


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A document sent inline (pdf, csv, txt, md, html, doc(x), xls(x)): Converse's document block."""

    format: str
    data: str  # base64
    name: str
    param: str
    cache: CacheMark = False


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """A model's earlier reasoning, sent back unchanged in the next turn: its text and the provider's
    signature (Claude refuses a changed one), or `redacted` opaque data when the reasoning was encrypted."""

    text: str
    signature: str | None = None
    redacted: str | None = None  # base64 of the encrypted reasoning, instead of text
    cache: CacheMark = False


Part = TextPart | ImagePart | RemoteImagePart | DocumentPart | ReasoningPart


# ----------------------------------------------------------------------------------------------------------
# Tools


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class ToolDef:
    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON Schema of the arguments
    cache: CacheMark = False


class ToolChoiceMode(StrEnum):
    AUTO = "auto"  # the model decides
    NONE = "none"  # no tool calls
    REQUIRED = "required"  # at least one call, of any declared tool
    TOOL = "tool"  # a call of the one tool `ToolChoice.name`


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode
    name: str | None = None  # set only for ToolChoiceMode.TOOL


# ----------------------------------------------------------------------------------------------------------
# Reasoning ("extended thinking")


class ReasoningMode(StrEnum):
    ENABLED = "enabled"  # think, within `budget_tokens`
    ADAPTIVE = "adaptive"  # the model decides how much to think (newest Claude models)
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Reasoning:
    """What the client asked of the model's reasoning; the provider maps it per model (or drops it)."""

    mode: ReasoningMode
    budget_tokens: int | None = None
    effort: str | None = None  # low | medium | high | max: how hard to work (output_config.effort)
    # the client's field that asked for it (reasoning_effort, thinking, reasoning.effort): a model without
    # reasoning is a 400 naming it (or, with drop_params, a drop); None: dropped silently (Anthropic's API)
    param: str | None = None
    # False: a model without reasoning gets the request without it (named as dropped) instead of a 400;
    # the Responses API, whose clients (Codex) send an effort to every model
    refuse: bool = True


# ----------------------------------------------------------------------------------------------------------
# The request


@dataclass(slots=True)
class Message:
    """One message, checked; `param` names it in the client's request (e.g. messages[2])."""

    role: str  # system | user | assistant | tool
    parts: list[Part]
    param: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    cache: CacheMark = False
    tool_error: bool = False  # a tool result that reports a failure (Converse status "error")


@dataclass(slots=True)
class ChatRequest:
    body: dict[str, Any]  # the client's body as sent (what the response cache keys on)
    model: str
    messages: list[Any]  # the client's messages as sent (what observability records)
    parsed_messages: list[Message]  # the same, checked and normalised for translation
    stream: bool = False
    include_usage: bool = False
    n: int = 1
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, Any] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    seed: int | None = None
    user: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: list[ToolDef] | None = None
    tool_choice: ToolChoice | None = None  # None: the client said nothing
    parallel_tool_calls: bool | None = None
    response_format: str = "text"  # text | json_object | json_schema
    json_schema_name: str | None = None
    json_schema: dict[str, Any] | None = None
    reasoning: Reasoning | None = None
    service_tier: str | None = None  # Bedrock serviceTier: priority | default | flex | reserved
    latency: str | None = None  # Bedrock performanceConfig.latency: standard | optimized
    clamp_max_tokens: bool = False  # max_tokens is the client's ceiling: lower it to the model's limit
    client_api: str = "openai.chat"  # which client API sent it, named in the CallRecord and traces


def remote_image_urls(request: ChatRequest) -> list[str]:
    """The http(s) image URLs the server must fetch before translation (Converse takes only bytes)."""
    urls: list[str] = []
    for message in request.parsed_messages:
        for part in message.parts:
            if type(part) is RemoteImagePart and part.url not in urls:
                urls.append(part.url)
    return urls


def image_count(request: ChatRequest) -> int:
    """Image parts in the whole conversation, inline and by URL: each one is sent to Bedrock every call."""
    return sum(
        type(part) is ImagePart or type(part) is RemoteImagePart
        for message in request.parsed_messages
        for part in message.parts
    )


def sniff_image(raw: bytes) -> str | None:
    """The real format from the first bytes: Bedrock rejects an image whose declared type is wrong."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if raw.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    return None
