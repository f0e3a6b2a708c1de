"""Small ASGI helpers: read a bounded (and decoded) body, answer JSON, answer an OpenAI-shaped error."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from bedrock_proxy.chat.depth import MAX_JSON_DEPTH, depth_message, dotted, nesting_beyond
from bedrock_proxy.errors import ErrorCode, GatewayError, invalid_request

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


CLOSE = (b"connection", b"close")  # the rest of an oversized body is not worth reading: end the connection
MIB = 1024 * 1024


DRAIN_FACTOR = 4  # a declared body up to 4 x the limit is read and dropped before its 413: the client sees it


def too_large(limit: int, what: str = "Request body", *, close: bool = True) -> GatewayError:
    """413. With `close`, the connection ends after it; without, uvicorn reads and drops the rest of the body
    (never kept), so a client that sends its whole body before reading gets the answer, not a reset."""
    return GatewayError(
        413,
        f"{what} is larger than the gateway's limit of {limit / MIB:g} MiB"
        " (general_settings.max_request_size_mb). Send smaller images or fewer messages.",
        code=ErrorCode.REQUEST_TOO_LARGE,
        headers=(CLOSE,) if close else (),
    )


def declared_length(scope: Scope) -> int | None:
    """Content-Length, when it is one plain number (uvicorn's parser has already refused a malformed one)."""
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


class _Decoder:
    """Content-Encoding gzip or deflate undone as the chunks arrive, never more than `limit` bytes out: a zip
    bomb is refused at the limit, not after it filled the memory."""

    def __init__(self, encoding: str, limit: int) -> None:
        # gzip: a gzip header; deflate: zlib-wrapped as RFC 9110 says, or raw deflate as some clients send
        self._wbits = zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
        self._encoding = encoding
        self._inflate = zlib.decompressobj(self._wbits)
        self._limit = limit
        self._started = False
        self.size = 0

    def feed(self, chunk: bytes) -> bytes:
        try:
            out = self._inflate.decompress(chunk, self._limit + 1 - self.size)
        except zlib.error:
            if self._encoding == "deflate" and not self._started:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self.feed(chunk)
            raise self._broken() from None
        self._started = True
        self.size += len(out)
        if self.size > self._limit or self._inflate.unconsumed_tail:
            raise too_large(self._limit, f"The decoded ({self._encoding}) request body")
        return out

    def finish(self) -> bytes:
        if not self._inflate.eof:
            raise self._broken()
        return b""

    def _broken(self) -> GatewayError:
        return GatewayError(
            400,
            f"The request body is not valid {self._encoding} data, although Content-Encoding says it is:"
            " send it uncompressed, or compress it whole.",
            code=ErrorCode.INVALID_CONTENT_ENCODING,
        )


def _decoder(scope: Scope, limit: int) -> _Decoder | None:
    encoding = (header(scope, b"content-encoding") or "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder("deflate" if encoding == "deflate" else "gzip", limit)
    raise GatewayError(
        415,
        f"Content-Encoding {encoding[:40]!r} is not supported: send the body uncompressed,"
        " or compressed as gzip or deflate.",
        code=ErrorCode.UNSUPPORTED_CONTENT_ENCODING,
        headers=(CLOSE,),
    )


async def read_request_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, decoded, at most `limit` bytes whether compressed or not. A declared Content-Length above
    the limit is refused before a byte is read; a chunked body is counted as it arrives."""
    length = declared_length(scope)
    if length is not None and length > limit:
        if length > DRAIN_FACTOR * limit:
            raise too_large(limit)  # answered at once, the connection closed: nothing of it is read
        # read and dropped, never kept, so a client that sends it all before reading (as urllib does, with
        # Connection: close) gets the 413 instead of a reset connection
        await _discard_body(receive)
        raise too_large(limit, close=False)
    decoder = _decoder(scope, limit)
    body = await read_body(receive, limit)
    if decoder is None:
        return body
    return decoder.feed(body) + decoder.finish()


async def _discard_body(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if not message.get("more_body", False):
            return


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
                raise too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(receive: Receive, limit: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    body = await read_body(receive, limit)
    if not body:
        raise GatewayError(400, "Request body is empty: send a JSON object.", code=ErrorCode.INVALID_JSON)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            400, f"Request body is not valid JSON: {exc}. Send a JSON object.", code=ErrorCode.INVALID_JSON
        ) from None
    path = nesting_beyond(value, max_depth)
    if path is not None:
        param = dotted(path) or None
        raise invalid_request(depth_message(param or "the body", max_depth), param)
    return value


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
