"""Server-sent events over ASGI: the stream's headers, then each framed piece with its own send, so nothing
waits for a buffer to fill. What the bytes say (the client API's dialect) is framed by that API, e.g.
`bedrock_proxy.openai.sse`.
"""

from __future__ import annotations

from bedrock_proxy.server.http import Send

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def start_stream(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + headers})


async def send_bytes(send: Send, body: bytes) -> None:
    """Framed events, sent now; the stream stays open."""
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def end_stream(send: Send, body: bytes) -> None:
    """The last framed bytes (an end marker, an error event), and the end of the response."""
    await send({"type": "http.response.body", "body": body, "more_body": False})
