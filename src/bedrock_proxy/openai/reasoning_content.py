"""A reasoning item's `encrypted_content` for the Responses API: the model's signed (or redacted)
thinking blocks, carried by the client and sent back to Bedrock unchanged next turn (as Codex does).

The content is base64 of a small JSON object, `{"bedrock_proxy": 1, "blocks": [...]}`, the blocks in the
`thinking_blocks` shape chat completions uses (type thinking + signature, or redacted_thinking + data). It is
not secret: Claude checks the signature, so a changed block is refused by Bedrock, not trusted by us.
Content that is not ours (OpenAI's own, from a conversation begun elsewhere) is recognised and left out.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from bedrock_proxy.chat.request import ReasoningPart
from bedrock_proxy.openai.chat_features import parse_thinking_blocks

_MARK = "bedrock_proxy"
_VERSION = 1


def _block(part: ReasoningPart) -> dict[str, Any] | None:
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    if part.signature is not None:
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    return None  # unsigned thinking cannot be sent back: Claude would refuse it


def encode_reasoning(parts: list[ReasoningPart]) -> str | None:
    """The encrypted_content for an answer's reasoning blocks; None when none of them can go back."""
    blocks = [block for block in map(_block, parts) if block is not None]
    if not blocks:
        return None
    payload = json.dumps({_MARK: _VERSION, "blocks": blocks}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def decode_reasoning(content: object, param: str) -> list[ReasoningPart] | None:
    """The blocks an encrypted_content carries; None when it is not the gateway's (to be left out).
    Blocks in a content that is ours but malformed are a 400 naming `param`'s block."""
    if not isinstance(content, str) or not content:
        return None
    try:
        payload = json.loads(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get(_MARK) != _VERSION:
        return None
    return parse_thinking_blocks(payload.get("blocks"), f"{param}.blocks")
