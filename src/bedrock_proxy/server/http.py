"""Small ASGI helpers: read a bounded body, answer JSON, answer an OpenAI-shaped error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bedrock_proxy.errors import ErrorCode, GatewayError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_CONTENT_TYPE = (b"content-type", b"application/json")


def header(scope: Scope, name: bytes) -> str | None:
    """First value of a request header (`name` in lower case)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise GatewayError(
                    413,
                    f"Request body is larger than the gateway's limit of {limit // (1024 * 1024)} MiB."
                    " Send smaller images or fewer messages.",
                    code=ErrorCode.REQUEST_TOO_LARGE,
                )
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(receive: Receive, limit: int) -> Any:
    body = await read_body(receive, limit)
    if not body:
        raise GatewayError(400, "Request body is empty: send a JSON object.", code=ErrorCode.INVALID_JSON)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            400, f"Request body is not valid JSON: {exc}. Send a JSON object.", code=ErrorCode.INVALID_JSON
        ) from None


class ClientDisconnected(Exception):
    """The client went away before the request was read."""


async def send_json(
    send: Send, status: int, data: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(data)
    response_headers = [JSON_CONTENT_TYPE, (b"content-length", str(len(body)).encode())]
    if headers:
        response_headers.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    error: GatewayError,
    headers: list[tuple[bytes, bytes]] | None = None,
    shape: Callable[[GatewayError], Any] | None = None,
    status: Callable[[GatewayError], int] | None = None,
) -> None:
    """The error in OpenAI's shape, or in `shape`'s (another client API's error body), with the error's
    status or `status`'s (another client API's status for it)."""
    extra = list(headers or [])
    if error.retry_after is not None:
        extra.append((b"retry-after", str(max(1, round(error.retry_after))).encode()))
    code = status(error) if status else error.status
    await send_json(send, code, shape(error) if shape else error.to_dict(), extra)
