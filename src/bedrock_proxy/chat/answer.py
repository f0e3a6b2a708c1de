"""What a provider answers, in the gateway's own terms: a finished ChatAnswer per choice, and for a stream
the StreamRenderer protocol a provider's stream translator drives, one call per delta.

A client API renders both (`bedrock_proxy.openai.completions`: `completion` from answers, `ChunkRenderer`
for streams). Finish reasons use the gateway's vocabulary, which is OpenAI's: stop | length | tool_calls |
content_filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.chat.usage import Usage


@dataclass(frozen=True, slots=True)
class AnswerToolCall:
    """A tool call the model made; `arguments` is the JSON text of its input."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """One choice of an answer. `content` None means "no text, only tool calls"."""

    content: str | None
    tool_calls: list[AnswerToolCall] = field(default_factory=list)
    reasoning: str | None = None
    finish_reason: str | None = None  # None: a stream that did not finish
    usage: Usage | None = None
    # the reasoning as blocks, each with its signature (or redacted data), in order: what a client must send
    # back unchanged in its next turn (`reasoning` is their text joined, for clients that show only text)
    reasoning_parts: list[ReasoningPart] = field(default_factory=list)
    stop_sequence: str | None = None  # the stop sequence that ended the answer, when the provider says
    service_tier: str | None = None  # the service tier that served it, when the provider says
    # the guardrail's assessment (Bedrock's trace.guardrail), when the deployment's guardrail traces
    guardrail_trace: dict[str, Any] | None = None


Chunk = TypeVar("Chunk", covariant=True)  # what a client API sends for one delta (a chunk dict, an event)


class StreamRenderer(Protocol[Chunk]):
    """A client API's stream, written one delta at a time. Each method returns what to send for it (a chunk,
    an event); `usage` returns None when the API sends nothing for it. Called on the hot path: keep them
    plain."""

    def start(self) -> Chunk: ...

    def text(self, text: str) -> Chunk: ...

    def reasoning(self, text: str) -> Chunk: ...

    def reasoning_signature(self, signature: str) -> Chunk | None: ...

    def redacted_reasoning(self, data: str) -> Chunk | None: ...

    def tool_start(self, position: int, call_id: str, name: str) -> Chunk: ...

    def tool_arguments(self, position: int, arguments: str) -> Chunk: ...

    def stop_sequence(self, sequence: str) -> Chunk | None: ...

    def finish(self, finish_reason: str) -> Chunk: ...

    def usage(
        self, usage: Usage, service_tier: str | None = None, guardrail_trace: dict[str, Any] | None = None
    ) -> Chunk | None:
        """The stream's end of answer: its usage, with the tier that served it and the guardrail's trace
        when the provider reports them (Bedrock sends all three in its last event)."""
        ...
