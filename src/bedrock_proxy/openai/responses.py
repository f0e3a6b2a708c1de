"""OpenAI's Responses API answers: the `response` object, its output items, its usage, and the stream of
`response.*` events, built from the gateway's ChatAnswer and StreamRenderer calls. The only place they are
built; shapes follow the openai SDK's types (openai/types/responses), whose parser is the judge.

A stream is framed as `event: <type>\\ndata: <json>\\n\\n`, every event carrying its `sequence_number`; it
ends with `response.completed` (or `response.incomplete`), or on a failure with an `error` event and
`response.failed` (Codex retries a stream that closes without a terminal event).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai.reasoning_content import decode_reasoning, encode_reasoning

# finish reasons that end a response early: its status is "incomplete", with this reason
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_response_id() -> str:
    """A fresh id (never the client's x-request-id: stored responses are found by it)."""
    return f"resp_{uuid.uuid4().hex}"


def _item_id(prefix: str, response_id: str, index: int) -> str:
    return f"{prefix}_{response_id.removeprefix('resp_')}{index:02d}"


def usage_to_responses(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def status_for(finish_reason: str | None) -> tuple[str, dict[str, Any] | None]:
    """The response's status and incomplete_details for the way the answer ended."""
    reason = _INCOMPLETE.get(finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def response_object(
    response_id: str,
    created_at: int,
    echo: dict[str, Any],
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    incomplete_details: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `response` object, in OpenAI's key order; `echo` holds the request's settings (parse)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": echo["instructions"],
        "max_output_tokens": echo["max_output_tokens"],
        "max_tool_calls": echo["max_tool_calls"],
        "model": echo["model"],
        "output": output,
        "parallel_tool_calls": echo["parallel_tool_calls"],
        "previous_response_id": echo["previous_response_id"],
        "prompt_cache_key": echo["prompt_cache_key"],
        "reasoning": echo["reasoning"],
        "safety_identifier": echo["safety_identifier"],
        "service_tier": echo["service_tier"],
        "store": echo["store"],
        "temperature": echo["temperature"],
        "text": echo["text"],
        "tool_choice": echo["tool_choice"],
        "tools": echo["tools"],
        "top_logprobs": echo["top_logprobs"],
        "top_p": echo["top_p"],
        "truncation": echo["truncation"],
        "usage": usage_to_responses(usage) if usage is not None else None,
        "user": echo["user"],
        "metadata": echo["metadata"],
    }


# ----------------------------------------------------------------------------------------------------------
# output items


def reasoning_item(
    item_id: str, text: str, status: str = "completed", encrypted_content: str | None = None
) -> dict[str, Any]:
    """The model's reasoning as OpenAI shows raw reasoning: a reasoning_text part, no summary; with the
    signed blocks in `encrypted_content` when there are any, for the client to send back next turn."""
    content = [{"type": "reasoning_text", "text": text}] if text else []
    item = {"id": item_id, "type": "reasoning", "summary": [], "content": content, "status": status}
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content
    return item


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def message_item(item_id: str, text: str | None, status: str = "completed") -> dict[str, Any]:
    content = [output_text(text)] if text is not None else []
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def output_items(response_id: str, answer: ChatAnswer) -> list[dict[str, Any]]:
    """A finished answer's output: its reasoning, its message, then its function calls, in that order."""
    status, _ = status_for(answer.finish_reason)
    item_status = "incomplete" if status == "incomplete" else "completed"
    items: list[dict[str, Any]] = []
    encrypted = encode_reasoning(answer.reasoning_parts)
    if answer.reasoning or encrypted is not None:
        item_id = _item_id("rs", response_id, len(items))
        items.append(reasoning_item(item_id, answer.reasoning or "", encrypted_content=encrypted))
    if answer.content or not answer.tool_calls:
        items.append(
            message_item(_item_id("msg", response_id, len(items)), answer.content or "", item_status)
        )
    for call in answer.tool_calls:
        item_id = _item_id("fc", response_id, len(items))
        items.append(function_call_item(item_id, call.id, call.name, call.arguments or "{}"))
    return items


def response_from_answer(
    response_id: str, created_at: int, echo: dict[str, Any], answer: ChatAnswer
) -> dict[str, Any]:
    """The whole `response` of a finished, non-streamed answer."""
    status, incomplete = status_for(answer.finish_reason)
    return response_object(
        response_id,
        created_at,
        echo,
        status=status,
        output=output_items(response_id, answer),
        usage=answer.usage,
        incomplete_details=incomplete,
    )


def answer_from_response(response: dict[str, Any]) -> ChatAnswer:
    """The answer a rendered response holds (the inverse of response_from_answer): a cached response is
    served again through the same renderers, under a new id."""
    texts: list[str] = []
    reasoning: list[str] = []
    reasoning_parts: list[ReasoningPart] = []
    calls: list[AnswerToolCall] = []
    for item in response.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            texts += [part.get("text") or "" for part in item.get("content") or []]
        elif kind == "reasoning":
            reasoning += [part.get("text") or "" for part in item.get("content") or []]
            reasoning_parts += decode_reasoning(item.get("encrypted_content"), "encrypted_content") or []
        elif kind == "function_call":
            calls.append(AnswerToolCall(item["call_id"], item["name"], item.get("arguments") or "{}"))
    reason = (response.get("incomplete_details") or {}).get("reason")
    finish = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(reason or "")
    usage = response.get("usage") or {}
    return ChatAnswer(
        "".join(texts) if texts or not calls else None,
        calls,
        "".join(reasoning) or None,
        finish or ("tool_calls" if calls else "stop"),
        Usage(
            prompt_tokens=usage.get("input_tokens", 0),
            completion_tokens=usage.get("output_tokens", 0),
            cache_read_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens", 0) or 0,
            cache_write_tokens=(usage.get("input_tokens_details") or {}).get("cache_write_tokens", 0) or 0,
        ),
        reasoning_parts=reasoning_parts,
    )


def input_items(response: dict[str, Any], conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input items a stored response answered (its conversation before its output), each with an id and
    in the item shape OpenAI lists (a string content becomes one input_text / output_text part)."""
    inputs = conversation[: len(conversation) - len(response.get("output") or [])]
    stem = str(response.get("id", "")).removeprefix("resp_")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(inputs):
        item = dict(item)
        if item.get("type") is None and "role" in item:
            item["type"] = "message"
        if item["type"] == "message":
            if isinstance(item.get("content"), str):
                kind = "output_text" if item.get("role") == "assistant" else "input_text"
                item["content"] = [{"type": kind, "text": item["content"]}]
            item.setdefault("status", "completed")
        item.setdefault("id", f"item_{stem}{index:03d}")
        out.append(item)
    return out


def item_list(items: list[dict[str, Any]], *, order: str, limit: int, after: str | None) -> dict[str, Any]:
    """One page of items, OpenAI's list shape (newest first unless order is asc)."""
    ordered = items if order == "asc" else items[::-1]
    if after is not None:
        ids = [item["id"] for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }


def failure_error(error: GatewayError) -> dict[str, Any]:
    """A failed response's `error`: OpenAI's codes are server_error and rate_limit_exceeded."""
    code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    return {"code": code, "message": error.message}


# ----------------------------------------------------------------------------------------------------------
# the stream


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """SSE frames, each named by its event type: `event: <type>` then `data: <json>`."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n" for event in events
    )


class ResponseStreamRenderer:
    """The `response.*` events of one streamed response: the `StreamRenderer` a provider's stream translator
    drives. It keeps the output as it grows (one open item at a time: reasoning, message or function call),
    so each item is closed with its `.done` events when the next begins, and `end` can send the final
    response. Every method returns the list of events to send (possibly empty)."""

    def __init__(self, response_id: str, echo: dict[str, Any], created_at: int | None = None) -> None:
        self.response_id = response_id
        self.created_at = created_at if created_at is not None else int(time.time())
        self._echo = echo
        self._sequence = 0
        self.output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the output item being streamed
        self._text: list[str] = []  # the open item's text (message text, reasoning text or arguments)
        # the open reasoning item's signed blocks so far, and where in its text the next block begins
        self._blocks: list[ReasoningPart] = []
        self._block_start = 0
        self._calls: dict[int, int] = {}  # tool call position -> output index
        self._call_args: dict[int, list[str]] = {}  # output index -> argument pieces
        self.finish_reason: str | None = None
        self.usage_seen: Usage | None = None
        self.started = False
        self.ended = False

    # --------------------------------------------------------------- helpers
    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self, status: str, usage: Usage | None = None, **extra: Any) -> dict[str, Any]:
        output = list(self.output)
        return response_object(
            self.response_id, self.created_at, self._echo, status=status, output=output, usage=usage, **extra
        )

    def _open_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close_item()
        self.output.append(item)
        self._open = item
        self._text = []
        self._blocks = []
        self._block_start = 0
        return [
            *events,
            self._event("response.output_item.added", output_index=len(self.output) - 1, item=item),
        ]

    def _close_item(self) -> list[dict[str, Any]]:
        item = self._open
        if item is None:
            return []
        self._open = None
        index = len(self.output) - 1
        text = "".join(self._text)
        events: list[dict[str, Any]] = []
        status, _ = status_for(self.finish_reason)
        item_status = "incomplete" if status == "incomplete" and item["type"] == "message" else "completed"
        if item["type"] == "message":
            part = output_text(text)
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(self._event("response.output_text.done", **where, text=text, logprobs=[]))
            events.append(self._event("response.content_part.done", **where, part=part))
            done = message_item(item["id"], text, item_status)
        elif item["type"] == "reasoning":
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(self._event("response.reasoning_text.done", **where, text=text))
            events.append(
                self._event(
                    "response.content_part.done", **where, part={"type": "reasoning_text", "text": text}
                )
            )
            done = reasoning_item(item["id"], text, encrypted_content=encode_reasoning(self._blocks))
        else:
            arguments = "".join(self._call_args.get(index, [])) or "{}"
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    arguments=arguments,
                )
            )
            done = function_call_item(item["id"], item["call_id"], item["name"], arguments)
        self.output[index] = done
        events.append(self._event("response.output_item.done", output_index=index, item=done))
        return events

    # --------------------------------------------------------------- StreamRenderer
    def start(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        snapshot = self._snapshot("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def text(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._open is None or self._open["type"] != "message":
            item_id = _item_id("msg", self.response_id, len(self.output))
            events = self._open_item(message_item(item_id, None, "in_progress"))
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item_id,
                    output_index=len(self.output) - 1,
                    content_index=0,
                    part=output_text(""),
                )
            )
        assert self._open is not None
        self._text.append(text)
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self._open["id"],
                output_index=len(self.output) - 1,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def _open_reasoning(self) -> list[dict[str, Any]]:
        if self._open is not None and self._open["type"] == "reasoning":
            return []
        item_id = _item_id("rs", self.response_id, len(self.output))
        events = self._open_item(reasoning_item(item_id, "", "in_progress"))
        events.append(
            self._event(
                "response.content_part.added",
                item_id=item_id,
                output_index=len(self.output) - 1,
                content_index=0,
                part={"type": "reasoning_text", "text": ""},
            )
        )
        return events

    def reasoning(self, text: str) -> list[dict[str, Any]]:
        events = self._open_reasoning()
        assert self._open is not None
        self._text.append(text)
        events.append(
            self._event(
                "response.reasoning_text.delta",
                item_id=self._open["id"],
                output_index=len(self.output) - 1,
                content_index=0,
                delta=text,
            )
        )
        return events

    def reasoning_signature(self, signature: str) -> list[dict[str, Any]]:
        """The end of one signed thinking block: kept for the item's encrypted_content, nothing sent yet."""
        events = self._open_reasoning()
        text = "".join(self._text)
        self._blocks.append(ReasoningPart(text[self._block_start :], signature=signature))
        self._block_start = len(text)
        return events

    def redacted_reasoning(self, data: str) -> list[dict[str, Any]]:
        """A redacted thinking block: no text to show, its data kept for the item's encrypted_content."""
        events = self._open_reasoning()
        self._blocks.append(ReasoningPart("", redacted=data))
        return events

    def tool_start(self, position: int, call_id: str, name: str) -> list[dict[str, Any]]:
        item_id = _item_id("fc", self.response_id, len(self.output))
        events = self._open_item(function_call_item(item_id, call_id, name, "", "in_progress"))
        self._calls[position] = len(self.output) - 1
        return events

    def tool_arguments(self, position: int, arguments: str) -> list[dict[str, Any]]:
        index = self._calls.get(position)
        if index is None:
            return []
        self._call_args.setdefault(index, []).append(arguments)
        return [
            self._event(
                "response.function_call_arguments.delta",
                item_id=self.output[index]["id"],
                output_index=index,
                delta=arguments,
            )
        ]

    def stop_sequence(self, sequence: str) -> None:
        return None  # the Responses API does not say which stop sequence ended the answer

    def finish(self, finish_reason: str) -> list[dict[str, Any]]:
        self.finish_reason = finish_reason
        return self._close_item()

    def usage(
        self, usage: Usage, service_tier: str | None = None, guardrail_trace: dict[str, Any] | None = None
    ) -> None:
        self.usage_seen = usage  # sent in the final response, once the stream ended
        return None

    # --------------------------------------------------------------- the end
    def end(self) -> list[dict[str, Any]]:
        """The terminal event: `response.completed`, or `response.incomplete` when the answer was cut."""
        events = [*self.start(), *self._close_item()]
        status, incomplete = status_for(self.finish_reason)
        self.ended = True
        final = self._snapshot(status, usage=self.usage_seen or Usage(), incomplete_details=incomplete)
        events.append(self._event(f"response.{status}", response=final))
        return events

    def failed(self, error: GatewayError) -> list[dict[str, Any]]:
        """A failure after the stream started: an `error` event, then `response.failed` with what was sent."""
        self.ended = True
        details = failure_error(error)
        events = self.start()
        final = self._snapshot("failed", usage=self.usage_seen, error=details)
        return [
            *events,
            self._event("error", code=details["code"], message=error.message, param=error.param),
            self._event("response.failed", response=final),
        ]

    def final_response(self) -> dict[str, Any]:
        """The response the stream amounted to (what is stored for previous_response_id)."""
        status, incomplete = status_for(self.finish_reason)
        return self._snapshot(status, usage=self.usage_seen or Usage(), incomplete_details=incomplete)


def replay(renderer: ResponseStreamRenderer, answer: ChatAnswer) -> list[dict[str, Any]]:
    """A whole answer as the events of a stream (a cached response asked for with stream: true)."""
    events = renderer.start()
    for part in answer.reasoning_parts:
        if part.redacted is not None:
            events += renderer.redacted_reasoning(part.redacted)
        else:
            events += renderer.reasoning(part.text) if part.text else []
            events += renderer.reasoning_signature(part.signature) if part.signature is not None else []
    if answer.reasoning and not answer.reasoning_parts:
        events += renderer.reasoning(answer.reasoning)
    if answer.content or not answer.tool_calls:
        events += renderer.text(answer.content or "")
    for position, call in enumerate(answer.tool_calls):
        events += renderer.tool_start(position, call.id, call.name)
        events += renderer.tool_arguments(position, call.arguments)
    events += renderer.finish(answer.finish_reason or "stop")
    if answer.usage is not None:
        renderer.usage(answer.usage)
    return events + renderer.end()
