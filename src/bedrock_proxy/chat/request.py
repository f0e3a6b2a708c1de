"""ChatRequest: a chat request in the gateway's own terms, checked, whichever client API sent it.

A client API fills it (`bedrock_proxy.openai.chat_request.parse_chat_request` for OpenAI's chat
completions); a provider reads it (`bedrock_proxy.bedrock.translate.to_converse`). Message content is a list
of small frozen parts, tool choice a `ToolChoice`: no positional tuples, no magic strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# ----------------------------------------------------------------------------------------------------------
# Message parts. `cache` marks a prompt-cache point after the part; `param` names the client's field, for
# errors found later (a model that takes no images, an image URL that could not be fetched).


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image sent inline: its real format (sniffed from the bytes) and its base64 data."""

    format: str  # png | jpeg | gif | webp
    data: str  # base64
    param: str
    cache: bool = False


@dataclass(frozen=True, slots=True)
class RemoteImagePart:
    """An image by http(s) URL: the server fetches it before translation (Converse takes only bytes)."""

    url: str
    param: str
    cache: bool = False


Part = TextPart | ImagePart | RemoteImagePart


# ----------------------------------------------------------------------------------------------------------
# Tools


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict


@dataclass(slots=True)
class ToolDef:
    name: str
    description: str | None
    parameters: dict  # JSON Schema of the arguments
    cache: bool = False


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
# The request


@dataclass(slots=True)
class Message:
    """One message, checked; `param` names it in the client's request (e.g. messages[2])."""

    role: str  # system | user | assistant | tool
    parts: list[Part]
    param: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    cache: bool = False


@dataclass(slots=True)
class ChatRequest:
    body: dict  # the client's body as sent (what the response cache keys on)
    model: str
    messages: list  # the client's messages as sent (what observability records)
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
    logit_bias: dict | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    seed: int | None = None
    user: str | None = None
    metadata: dict = field(default_factory=dict)
    tools: list[ToolDef] | None = None
    tool_choice: ToolChoice | None = None  # None: the client said nothing
    parallel_tool_calls: bool | None = None
    response_format: str = "text"  # text | json_object | json_schema
    json_schema_name: str | None = None
    json_schema: dict | None = None


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
