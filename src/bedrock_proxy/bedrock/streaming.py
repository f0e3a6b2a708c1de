"""ConverseStream events -> a client API's stream (a `chat.answer.StreamRenderer`), one event at a time.

Runs once per upstream event on the hot path: each delta is one renderer call (no intermediate event
objects), and every delta is returned at once so the server can forward it without buffering. The one
exception is json mode (response_format through a forced tool): stray text is held back until the answer's
shape is known, because text before the JSON would make the content unparseable.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson

from bedrock_proxy.bedrock.translate import (
    finish_reason_for,
    guardrail_trace_of,
    service_tier_of,
    stop_sequence_of,
    usage_from_converse,
)
from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer, StreamRenderer
from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.chat.usage import Usage

Chunk = TypeVar("Chunk")  # what the client API's renderer makes of one delta


class StreamTranslator(Generic[Chunk]):
    """Translates one choice's ConverseStream into a client API's stream through its `StreamRenderer`;
    keeps what it saw for observability and the response cache (`answer`)."""

    __slots__ = (
        "_args_seen",
        "_blocks",
        "_content",
        "_held_text",
        "_json_blocks",
        "_json_tool",
        "_reasoning",
        "_render",
        "_thinking",
        "_tool_calls",
        "finish_reason",
        "guardrail_trace",
        "service_tier",
        "started",
        "stop_sequence",
        "usage",
    )

    usage: Usage | None

    def __init__(self, renderer: StreamRenderer[Chunk], json_tool: str | None) -> None:
        self._render = renderer
        self._json_tool = json_tool
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tool_calls: list[tuple[str, str, list[str]]] = []  # (id, name, argument pieces)
        self._blocks: dict[int, int] = {}  # contentBlockIndex -> tool call position
        self._json_blocks: set[int] = set()  # contentBlockIndex of the forced json tool
        self._args_seen: set[int] = set()  # tool call positions that received argument text
        self._held_text: list[str] | None = [] if json_tool else None
        self.usage = None
        self.finish_reason: str | None = None
        self.stop_sequence: str | None = None
        self.service_tier: str | None = None
        self.guardrail_trace: dict[str, Any] | None = None
        # contentBlockIndex -> [reasoning pieces, signature, redacted data]: the blocks a client sends back
        self._thinking: dict[int, list[Any]] = {}
        self.started = False

    def feed(self, event_type: str, payload: dict[str, Any]) -> list[Chunk]:
        """What to send for one ConverseStream event (possibly nothing). Unknown events and fields are
        ignored."""
        if event_type == "contentBlockDelta":
            return self._delta(payload.get("contentBlockIndex", 0), payload.get("delta") or {})
        if event_type == "contentBlockStart":
            return self._start(payload.get("contentBlockIndex", 0), payload.get("start") or {})
        if event_type == "contentBlockStop":
            return self._stop_block(payload.get("contentBlockIndex", 0))
        if event_type == "messageStart":
            self.started = True
            return [self._render.start()]
        if event_type == "messageStop":
            self.stop_sequence = stop_sequence_of(payload.get("additionalModelResponseFields"))
            return self._message_stop(payload.get("stopReason"))
        if event_type == "metadata":
            self.usage = usage_from_converse(payload.get("usage"), "".join(self._reasoning))
            self.service_tier = service_tier_of(payload)
            self.guardrail_trace = guardrail_trace_of(payload)
            item = self._render.usage(self.usage, self.service_tier, self.guardrail_trace)
            if item is None:
                return []
            self.started = True
            return [item]
        return []

    def _delta(self, block: int, delta: dict[str, Any]) -> list[Chunk]:
        text = delta.get("text")
        if text is not None:
            if not text:
                return []
            if self._held_text is not None:
                self._held_text.append(text)
                return []
            self._content.append(text)
            self.started = True
            return [self._render.text(text)]
        tool = delta.get("toolUse")
        if tool is not None:
            piece = tool.get("input") or ""
            if not piece:
                return []
            if block in self._json_blocks:
                self._content.append(piece)
                self.started = True
                return [self._render.text(piece)]
            position = self._blocks.get(block)
            if position is None:
                return []
            self._tool_calls[position][2].append(piece)
            self._args_seen.add(position)
            self.started = True
            return [self._render.tool_arguments(position, piece)]
        reasoning = delta.get("reasoningContent")
        if reasoning is not None:
            return self._reasoning_delta(block, reasoning)
        return []

    def _reasoning_delta(self, block: int, reasoning: dict[str, Any]) -> list[Chunk]:
        thinking = self._thinking.get(block)
        if thinking is None:
            thinking = self._thinking[block] = [[], None, None]
        text = reasoning.get("text")
        if text:
            self._reasoning.append(text)
            thinking[0].append(text)
            self.started = True
            return [self._render.reasoning(text)]
        item: Chunk | None = None
        signature = reasoning.get("signature")
        if signature:
            thinking[1] = signature
            item = self._render.reasoning_signature(signature)
        redacted = reasoning.get("redactedContent")
        if redacted:
            thinking[2] = redacted
            item = self._render.redacted_reasoning(redacted)
        if item is None:
            return []
        self.started = True
        return [item]

    def _start(self, block: int, start: dict[str, Any]) -> list[Chunk]:
        tool = start.get("toolUse")
        if tool is None:
            return []
        name = tool.get("name", "")
        if self._json_tool is not None and name == self._json_tool:
            self._json_blocks.add(block)
            self._held_text = None  # text written before the json answer is not part of it
            return []
        position = len(self._tool_calls)
        self._blocks[block] = position
        call_id = tool.get("toolUseId", "")
        self._tool_calls.append((call_id, name, []))
        self.started = True
        return [self._render.tool_start(position, call_id, name)]

    def _stop_block(self, block: int) -> list[Chunk]:
        position = self._blocks.get(block)
        if position is not None and position not in self._args_seen:
            # A tool called without arguments: clients json.loads the arguments, so send "{}" rather than "".
            self._args_seen.add(position)
            self._tool_calls[position][2].append("{}")
            self.started = True
            return [self._render.tool_arguments(position, "{}")]
        if block in self._json_blocks and not self._content:
            self._content.append("{}")
            self.started = True
            return [self._render.text("{}")]
        return []

    def _message_stop(self, stop_reason: str | None) -> list[Chunk]:
        chunks: list[Chunk] = []
        if self._held_text:
            text = "".join(self._held_text)
            self._content.append(text)
            chunks.append(self._render.text(text))
        self._held_text = None
        self.finish_reason = finish_reason_for(stop_reason, bool(self._tool_calls))
        if self.stop_sequence is not None:
            item = self._render.stop_sequence(self.stop_sequence)
            if item is not None:
                chunks.append(item)
        chunks.append(self._render.finish(self.finish_reason))
        self.started = True
        return chunks

    def answer(self) -> ChatAnswer:
        """What was streamed so far, assembled (finish_reason None if the stream did not finish)."""
        content = "".join(self._content) if self._content or not self._tool_calls else None
        return ChatAnswer(
            content,
            [AnswerToolCall(call_id, name, "".join(pieces)) for call_id, name, pieces in self._tool_calls],
            "".join(self._reasoning) if self._reasoning else None,
            self.finish_reason,
            self.usage,
            [
                ReasoningPart("".join(pieces), signature=signature, redacted=redacted)
                for _, (pieces, signature, redacted) in sorted(self._thinking.items())
            ],
            self.stop_sequence,
            self.service_tier,
            self.guardrail_trace,
        )


def converse_events(response: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ConverseStream events equivalent to a Converse response, so a non-streamed answer can be replayed
    as a stream (models that cannot stream tool use: ConverseCall.buffered_stream)."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    blocks = ((response.get("output") or {}).get("message") or {}).get("content") or []
    for index, block in enumerate(blocks):
        if "text" in block:
            events.append(
                ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": block["text"]}})
            )
        elif "reasoningContent" in block:
            content = block["reasoningContent"]
            if "redactedContent" in content:
                deltas = [{"redactedContent": content["redactedContent"]}]
            else:
                text = content.get("reasoningText") or {}
                deltas = [{"text": text.get("text", "")}]
                if text.get("signature"):
                    deltas.append({"signature": text["signature"]})
            events.extend(
                ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": delta}})
                for delta in deltas
            )
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use.get("toolUseId", ""), "name": use.get("name", "")}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            arguments = orjson.dumps(use.get("input") or {}).decode()
            events.append(
                (
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"toolUse": {"input": arguments}}},
                )
            )
        else:
            continue
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    stop: dict[str, Any] = {"stopReason": response.get("stopReason", "end_turn")}
    if "additionalModelResponseFields" in response:
        stop["additionalModelResponseFields"] = response["additionalModelResponseFields"]
    events.append(("messageStop", stop))
    metadata = {"usage": response.get("usage") or {}, "metrics": response.get("metrics") or {}}
    for key in ("serviceTier", "trace"):
        if key in response:
            metadata[key] = response[key]
    events.append(("metadata", metadata))
    return events


def chunks_from_converse(translator: StreamTranslator[Chunk], response: dict[str, Any]) -> list[Chunk]:
    """All chunks for a Converse response, through the same translator a live stream would use."""
    chunks: list[Chunk] = []
    for event_type, payload in converse_events(response):
        chunks.extend(translator.feed(event_type, payload))
    return chunks
