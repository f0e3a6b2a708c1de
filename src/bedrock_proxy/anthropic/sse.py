"""Anthropic's SSE framing: every event is `event: <type>` then `data: <json>` and a blank line; there is no
[DONE] (the stream ends after message_stop), and a failure after the 200 is an `error` event."""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_proxy.anthropic.errors import error_body
from bedrock_proxy.errors import GatewayError

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def encode_event(data: dict[str, Any]) -> bytes:
    """One event; its name is the payload's `type`, as Anthropic names them."""
    name: str = data["type"]
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def encode_error(error: GatewayError) -> bytes:
    """A failure after the stream started: an `error` event, after which the stream ends."""
    return encode_event(error_body(error))
