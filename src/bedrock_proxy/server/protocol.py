"""uvicorn's httptools protocol with the limits a public listener needs before any request reaches the app:
header size, header count, header read time and open connections; and every answer it writes itself (a
request that is not HTTP, a refusal) in OpenAI's error shape instead of uvicorn's plain text.

httptools (llhttp) bounds none of these: one 50 MB header was read whole, 100,000 headers were accepted, a
client sending a byte a second kept its connection forever. uvicorn is given this class as `http=`; it reads
its limits from the app (`Gateway.connection_limits`), so one class serves every worker.
"""

from __future__ import annotations

import asyncio
import http
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bedrock_proxy.errors import ErrorCode, GatewayError

logger = logging.getLogger("bedrock_proxy.server")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may send before its request is handed to the app (general_settings)."""

    header_bytes: int = 64 * 1024  # max_request_header_size_kb: request line and headers together
    header_count: int = 100  # max_request_headers
    header_timeout: float = 10.0  # request_header_timeout: seconds from the first byte to the last header
    connections: int = 1024  # max_connections, per worker process

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        return cls(
            header_bytes=settings.max_request_header_size_kb * 1024,
            header_count=settings.max_request_headers,
            header_timeout=settings.request_header_timeout,
            connections=settings.max_connections,
        )


def limits_of(app: object) -> ConnectionLimits:
    """The gateway's limits, found under uvicorn's middleware wrappers (each keeps the next as `.app`)."""
    for _ in range(8):
        limits = getattr(app, "connection_limits", None)
        if isinstance(limits, ConnectionLimits):
            return limits
        app = getattr(app, "app", None)
        if app is None:
            break
    return ConnectionLimits()


def error_response(error: GatewayError, extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    """A whole HTTP/1.1 response: `error` as OpenAI's error JSON, after which the connection closes."""
    body = orjson.dumps(error.to_dict())
    phrase = http.HTTPStatus(error.status).phrase.encode()
    head = [
        b"HTTP/1.1 %d %s" % (error.status, phrase),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
        *(name + b": " + value for name, value in extra),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _invalid_http() -> GatewayError:
    return GatewayError(
        400,
        "The request is not valid HTTP/1.1 and was not read: check the request line, the header names and"
        " values (no control characters) and the body framing (Content-Length or chunked, not both).",
        code=ErrorCode.INVALID_HTTP_REQUEST,
    )


class GatewayHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol, bounded. A refusal is written here, in OpenAI's error shape, and ends the
    connection: after a header that is too large or too slow, nothing else on it can be trusted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits_of(self.app)
        self._in_headers = True  # from a request's first byte (or the connection's) to its last header
        self._header_bytes = 0
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refusal: GatewayError | None = None  # set by a parser callback, written by send_400_response

    # the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.connections:
            self._refuse(
                GatewayError(
                    503,
                    f"The gateway has {self.limits.connections} open connections, its limit"
                    " (general_settings.max_connections): retry shortly, or reuse a connection.",
                    type="api_error",
                    code=ErrorCode.TOO_MANY_CONNECTIONS,
                ),
                (b"retry-after", b"1"),
            )
            return
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_headers:
            super().data_received(data)
            return
        room = self.limits.header_bytes - self._header_bytes
        if len(data) <= room:
            self._header_bytes += len(data)
            super().data_received(data)
            return
        # only as much as the limit allows is parsed: headers still incomplete after it are too large
        self._header_bytes += room
        if room:
            super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self._in_headers:
            self._refuse(self._headers_too_large(f"more than {self.limits.header_bytes // 1024} KiB"))
            return
        super().data_received(data[room:])

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_count = 0
        if self._header_timer is None:
            self._start_header_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.header_count:
            self._refusal = self._headers_too_large(f"more than {self.limits.header_count} header fields")
            raise ValueError("too many header fields")  # httptools stops parsing: send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._stop_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers = True  # the next bytes are the next request's line and headers
        self._header_bytes = 0

    # answers written here

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools could not parse (or a callback refused)."""
        error = self._refusal or _invalid_http()
        self._refusal = None
        if error.status == 400:
            logger.warning("refused a request that is not valid HTTP from %s", _peer(self.client))
        self._refuse(error)

    def _refuse(self, error: GatewayError, *extra: tuple[bytes, bytes]) -> None:
        self._stop_header_timer()
        if error.status != 400:
            logger.info("%s from %s: %s", error.status, _peer(self.client), error.code)
        if not self.transport.is_closing():
            self.transport.write(error_response(error, extra))
            self.transport.close()

    def _headers_too_large(self, what: str) -> GatewayError:
        return GatewayError(
            431,
            f"The request headers are too large ({what}): send fewer or smaller headers"
            " (the gateway's limits: general_settings.max_request_header_size_kb and max_request_headers).",
            code=ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE,
        )

    def _start_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_timed_out)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self._in_headers:
            self._refuse(
                GatewayError(
                    408,
                    f"The request line and headers did not arrive within {self.limits.header_timeout:g} s"
                    " (general_settings.request_header_timeout): send the whole request at once.",
                    code=ErrorCode.REQUEST_HEADER_TIMEOUT,
                )
            )


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "an unknown client"
