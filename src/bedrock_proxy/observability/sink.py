"""The sink contract the dispatcher drives, and the one HTTP helper every HTTP sink shares.

A sink turns a batch of CallRecords into one delivery. It raises RetryableSinkError when trying again
later may work (network error, 408/429/5xx) and PermanentSinkError when it cannot (bad keys, 4xx):
the dispatcher owns retries, backoff and counting, so sinks stay small.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import logging
import time
import zlib
from collections.abc import Callable
from typing import Protocol, TypeVar, runtime_checkable

import aiohttp

from bedrock_proxy.observability.record import CallRecord

log = logging.getLogger("bedrock_proxy.observability")
T = TypeVar("T")


class SinkError(Exception):
    pass


class RetryableSinkError(SinkError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSinkError(SinkError):
    pass


class CredentialsSinkError(RetryableSinkError):
    """The sink refused our credentials (401/403). Retried, not dropped: the records wait in the bounded
    buffer until the key is fixed (or the buffer's oldest make room for newer ones), and an alert says so."""


@runtime_checkable
class Sink(Protocol):
    name: str
    max_batch: int  # records per send_batch call

    async def send_batch(self, records: list[CallRecord]) -> None: ...

    async def aclose(self) -> None: ...


RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Encoding runs on the event loop that serves requests: a 100-record batch costs a few ms, so it is cut
# into slices with a yield between them, and large bodies are gzipped a slice at a time the same way. (A
# thread frees the loop only when a core is idle; on a busy host, or a worker pinned to its core, handing
# the body to a thread cost 0.2 ms of CPU per batch more than compressing it here.)
YIELD_EVERY = 10
GZIP_LEVEL = 1
GZIP_SLICE_BYTES = 64 * 1024  # ~0.1 ms of compression between two yields


async def gzip_yielding(body: bytes) -> bytes:
    """gzip.compress(body, GZIP_LEVEL), letting requests run after every GZIP_SLICE_BYTES."""
    if len(body) <= GZIP_SLICE_BYTES:
        return gzip.compress(body, compresslevel=GZIP_LEVEL)
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    view = memoryview(body)
    out = []
    for start in range(0, len(body), GZIP_SLICE_BYTES):
        out.append(compressor.compress(view[start : start + GZIP_SLICE_BYTES]))
        await asyncio.sleep(0)
    out.append(compressor.flush())
    return b"".join(out)


async def map_yielding(fn: Callable[[CallRecord], T], records: list[CallRecord]) -> list[T]:
    """[fn(r) for r in records], letting requests run every YIELD_EVERY records."""
    out: list[T] = []
    for i, record in enumerate(records, 1):
        out.append(fn(record))
        if i % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return out


class GzipWriter:
    """A gzip body built piece by piece as the pieces are encoded, so that the uncompressed body of a whole
    batch (~400 KB for 100 small chat records) is never joined in memory only to be compressed."""

    __slots__ = ("_compressor", "_out", "size")

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: the gzip format
        self._out: list[bytes] = []
        self.size = 0  # uncompressed bytes written

    def write(self, data: bytes) -> None:
        self.size += len(data)
        compressed = self._compressor.compress(data)
        if compressed:
            self._out.append(compressed)

    def finish(self) -> bytes:
        self._out.append(self._compressor.flush())
        return b"".join(self._out)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), capped at 5 minutes."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        seconds = when - time.time()
    return min(max(seconds, 0.0), 300.0)


class HttpSink:
    """Base for sinks that POST: one aiohttp session per sink, created lazily inside the running loop."""

    name = "http"
    max_batch = 100

    def __init__(self, *, timeout: float = 10.0, gzip_body: bool = True) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._gzip = gzip_body
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, gzipped: bool = False
    ) -> tuple[int, bytes]:
        """POST and classify: 2xx returns (status, body); anything else raises a SinkError. `gzipped`: the
        body is gzip already (a GzipWriter's)."""
        headers = dict(headers)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        elif self._gzip and len(body) > 1024:
            # level 1: OTLP JSON is repetitive, so it still shrinks ~30x, at half the CPU of level 5
            body = await gzip_yielding(body)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._http().post(url, data=body, headers=headers) as resp:
                payload = await resp.read()
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise RetryableSinkError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return status, payload
        detail = payload[:300].decode("utf-8", "replace")
        if status in RETRYABLE_STATUS:
            raise RetryableSinkError(f"{self.name}: HTTP {status}: {detail}", retry_after)
        if status in (401, 403):
            raise CredentialsSinkError(
                f"{self.name}: HTTP {status}: the sink rejected our credentials: {detail}"
            )
        raise PermanentSinkError(f"{self.name}: HTTP {status}: {detail}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
