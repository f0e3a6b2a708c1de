"""Extended thinking as Claude on Bedrock does it: `additionalModelRequestFields.thinking` checked against
what the model takes (bedrock.capabilities), a reasoningContent block with a signature in the answer, and a
reasoning block sent back in a later turn refused if its text no longer matches its signature, and (with
thinking on) a tool-use turn being answered refused when it does not start with its thinking block."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.emulator.errors import validation

MIN_BUDGET = 1024


def signature(text: str) -> str:
    digest = hashlib.blake2b(b"emulated-thinking:" + text.encode(), digest_size=32).digest()
    return base64.b64encode(digest).decode("ascii")


def thinking_requested(fields: Any, model_id: str, max_tokens: int | None) -> bool:
    """Whether the request asks for reasoning; a ValidationException for what this model refuses."""
    thinking = fields.get("thinking") if isinstance(fields, dict) else None
    if thinking is None:
        return False
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return False
    accepted = capabilities_for(model_id).thinking
    if kind not in accepted:
        if not accepted:
            raise validation(
                "The model does not support extended thinking (additionalModelRequestFields.thinking)."
            )
        raise validation(
            f"thinking.type: {kind!r} is not supported by this model; use {' or '.join(sorted(accepted))}."
        )
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_BUDGET:
            raise validation(f"thinking.budget_tokens: must be at least {MIN_BUDGET}.")
        if max_tokens is not None and budget >= max_tokens:
            raise validation("`max_tokens` must be greater than `thinking.budget_tokens`.")
    return True


def check_reasoning_block(value: Any) -> None:
    """A reasoning block sent back must be exactly what the model gave (its signature still matches)."""
    text = value.get("reasoningText") if isinstance(value, dict) else None
    if (
        isinstance(text, dict)
        and "signature" in text
        and text["signature"] != signature(text.get("text", ""))
    ):
        raise validation(
            "messages: the signature of a thinking block does not match its content (it was changed)."
        )


def check_tool_turn_starts_with_thinking(messages: list[Any]) -> None:
    """With thinking on, Claude refuses a final assistant turn whose tool calls are being answered unless it
    starts with the thinking block the model gave before them (clients must send it back)."""
    if len(messages) < 2 or messages[-1].get("role") != "user":
        return
    answered = any(isinstance(b, dict) and "toolResult" in b for b in messages[-1].get("content") or [])
    turn = messages[-2]
    content = turn.get("content") or []
    calls = any(isinstance(b, dict) and "toolUse" in b for b in content)
    if not answered or turn.get("role") != "assistant" or not calls:
        return
    first = content[0] if isinstance(content[0], dict) else {}
    if "reasoningContent" not in first:
        found = "tool_use" if "toolUse" in first else "text"
        raise validation(
            f"The model returned the following errors: messages.{len(messages) - 2}.content.0.type: Expected"
            f" `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final"
            " `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use`"
            " and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To"
            " avoid this requirement, disable `thinking`."
        )


def reasoning_block(prompt: str) -> dict[str, Any]:
    words = prompt.split()[:12]
    text = "Considering the request: " + (" ".join(words) if words else "(empty)")
    return {"reasoningContent": {"reasoningText": {"text": text, "signature": signature(text)}}}
