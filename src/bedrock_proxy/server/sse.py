"""Server-sent events in OpenAI's dialect: one `data:` line per chunk, `[DONE]` at the end.

Each chunk is written with its own ASGI send, so nothing waits for a buffer to fill.
"""

from __future__ import annotations

import orjson

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.server.http import Send

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
DONE = b"data: [DONE]\n\n"


def encode_event(data: dict) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


async def start_stream(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})


async def send_event(send: Send, data: dict) -> None:
    await send({"type": "http.response.body", "body": encode_event(data), "more_body": True})


async def send_events(send: Send, chunks: list[dict]) -> None:
    body = encode_event(chunks[0]) if len(chunks) == 1 else b"".join(encode_event(c) for c in chunks)
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def send_error_event(send: Send, error: GatewayError) -> None:
    """A failure after the 200 was sent: the error object as a last event, then the end of the stream."""
    body = encode_event(error.to_dict()) + DONE
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def end_stream(send: Send) -> None:
    await send({"type": "http.response.body", "body": DONE, "more_body": False})
