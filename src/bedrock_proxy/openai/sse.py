"""Server-sent events in OpenAI's dialect: one `data:` line per chunk, `data: [DONE]` at the end, and a
failure after the 200 as the error object in a last event. Framing only (bytes out); server.sse sends them.

Another client API frames differently (Anthropic's Messages stream names each event with an `event:` line
and has no [DONE]), which is why this lives with the OpenAI API and not with the server.
"""

from __future__ import annotations

from typing import Any

import orjson

from bedrock_proxy.errors import GatewayError

DONE = b"data: [DONE]\n\n"


def encode_event(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def encode_events(chunks: list[dict[str, Any]]) -> bytes:
    """Several chunks framed as one write (what is already here goes out together)."""
    return encode_event(chunks[0]) if len(chunks) == 1 else b"".join(encode_event(c) for c in chunks)


def encode_error(error: GatewayError) -> bytes:
    """A failure after the 200 was sent: the error object as a last event, then the end of the stream."""
    return encode_event(error.to_dict()) + DONE
