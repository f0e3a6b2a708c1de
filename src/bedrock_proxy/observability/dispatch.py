"""Delivers CallRecords to sinks in the background, so the request path never waits on a sink.

Each sink has its own bounded buffer (a deque) and one task that batches, delivers and retries with
exponential backoff and full jitter, honouring Retry-After. `submit` is a couple of deque appends from the
event loop thread: no await, no lock, no I/O. When a buffer is full the *oldest* record is dropped and
counted: during an outage the newest records describe the incident people are looking at, and a bounded
deque drops from the left for free. Memory is therefore bounded by `queue_size + max_batch` records per
sink whatever the sink does. A batch is retried until it is delivered, rejected as permanent, or has been
retrying for `max_retry_seconds`; then it is dropped and counted. A batch the sink refuses for its
credentials (401/403) is the exception: it keeps retrying, however long, so that the records are delivered
once the key is fixed; the buffer stays bounded meanwhile, and `credential_failures` lets the alerter say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Iterable

from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import (
    CredentialsSinkError,
    PermanentSinkError,
    RetryableSinkError,
    Sink,
)

log = logging.getLogger("bedrock_proxy.observability")


class _Lane:
    """One sink's buffer, worker task and counters."""

    __slots__ = (
        "buffer",
        "credential_failures",
        "delivered",
        "dropped",
        "in_flight",
        "queue_size",
        "retried",
        "sink",
        "task",
        "waiting",
        "wake",
    )

    def __init__(self, sink: Sink, queue_size: int) -> None:
        self.sink = sink
        self.queue_size = queue_size
        self.buffer: deque[CallRecord] = deque()
        self.wake: asyncio.Event | None = None
        self.waiting = False
        self.task: asyncio.Task[None] | None = None
        self.in_flight = 0
        self.delivered = 0
        self.retried = 0
        self.dropped = 0
        self.credential_failures = 0  # attempts the sink refused for our credentials

    def put(self, record: CallRecord) -> None:
        buffer = self.buffer
        if len(buffer) >= self.queue_size:
            buffer.popleft()
            self.dropped += 1
        buffer.append(record)
        if self.waiting:
            self.waiting = False
            self.wake.set()  # type: ignore[union-attr]


class RecordDispatcher:
    def __init__(
        self,
        sinks: Iterable[Sink],
        queue_size: int = 10_000,
        *,
        linger: float = 0.05,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        max_retry_seconds: float = 600.0,
    ) -> None:
        self._lanes = {sink.name: _Lane(sink, queue_size) for sink in sinks}
        self.linger = linger
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_seconds = max_retry_seconds
        self._closing = False
        self._deadline: float | None = None

    # ------------------------------------------------------------------ request path
    def submit(self, record: CallRecord, sinks: Iterable[str] | None = None) -> None:
        """Queue a record for every sink (or the named ones). Never blocks; call from the loop thread."""
        if self._closing:
            for name in sinks if sinks is not None else self._lanes:
                self._lanes[name].dropped += 1
            return
        if sinks is None:
            for lane in self._lanes.values():
                lane.put(record)
        else:
            lanes = self._lanes
            for name in sinks:
                lanes[name].put(record)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for lane in self._lanes.values():
            if lane.task is None:
                lane.wake = asyncio.Event()
                lane.task = asyncio.create_task(self._run(lane), name=f"sink:{lane.sink.name}")

    async def aclose(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed within `timeout` seconds, count the rest as dropped, close sinks."""
        self._closing = True
        self._deadline = time.monotonic() + timeout
        tasks = []
        for lane in self._lanes.values():
            if lane.wake is not None:
                lane.wake.set()
            if lane.task is not None:
                tasks.append(lane.task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for lane in self._lanes.values():
            lost = len(lane.buffer) + lane.in_flight
            if lost:
                lane.dropped += lost
                log.error("sink %s: %d records not delivered before shutdown", lane.sink.name, lost)
            lane.buffer.clear()
            lane.in_flight = 0
            with contextlib.suppress(Exception):
                await lane.sink.aclose()

    def stats(self) -> dict[str, dict[str, int]]:
        """Per sink: queued (buffer + batch in flight), delivered, retried, dropped, capacity."""
        out = {}
        for name, lane in self._lanes.items():
            stats = {
                "queued": len(lane.buffer) + lane.in_flight,
                "delivered": lane.delivered,
                "retried": lane.retried,
                "dropped": lane.dropped,
                "credential_failures": lane.credential_failures,
                "capacity": lane.queue_size,
            }
            extra = getattr(lane.sink, "extra_stats", None)
            if extra is not None:
                stats.update(extra())
            out[name] = stats
        return out

    # ------------------------------------------------------------------ background
    async def _run(self, lane: _Lane) -> None:
        buffer = lane.buffer
        max_batch = max(int(getattr(lane.sink, "max_batch", 100)), 1)
        while True:
            if not buffer:
                if self._closing:
                    return
                lane.wake.clear()  # type: ignore[union-attr]
                lane.waiting = True
                await lane.wake.wait()  # type: ignore[union-attr]
                continue
            if len(buffer) < max_batch and self.linger > 0 and not self._closing:
                await asyncio.sleep(self.linger)
            n = min(len(buffer), max_batch)
            batch = [buffer.popleft() for _ in range(n)]
            lane.in_flight = n  # if cancelled at shutdown, aclose counts these as dropped
            await self._deliver(lane, batch)
            lane.in_flight = 0

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay = random.uniform(0.5, 1.0) * min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        if retry_after is not None:
            delay = max(delay, min(retry_after, 60.0))
        return delay

    async def _deliver(self, lane: _Lane, batch: list[CallRecord]) -> None:
        sink, n = lane.sink, len(batch)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await sink.send_batch(batch)
            except RetryableSinkError as exc:
                attempt += 1
                now = time.monotonic()
                credentials = isinstance(exc, CredentialsSinkError)
                if credentials:
                    lane.credential_failures += 1
                expired = not credentials and now - started > self.max_retry_seconds
                if expired or (self._deadline is not None and now >= self._deadline):
                    lane.dropped += n
                    log.error(
                        "sink %s: dropping %d records after %d attempts: %s", sink.name, n, attempt, exc
                    )
                    return
                lane.retried += n
                delay = self._backoff(attempt, exc.retry_after)
                if self._deadline is not None:
                    delay = min(delay, max(self._deadline - now, 0.0))
                if credentials and (attempt == 1 or attempt % 10 == 0):
                    log.error(
                        "sink %s refuses our credentials: %d records kept and retried in %.2fs until the key"
                        " is fixed: %s",
                        sink.name,
                        n,
                        delay,
                        exc,
                    )
                elif attempt == 1 or attempt % 10 == 0:
                    log.warning(
                        "sink %s: attempt %d failed, retrying in %.2fs: %s", sink.name, attempt, delay, exc
                    )
                await asyncio.sleep(delay)
            except PermanentSinkError as exc:
                lane.dropped += n
                log.error("sink %s: %d records rejected: %s", sink.name, n, exc)
                return
            except Exception:
                lane.dropped += n
                log.exception("sink %s: %d records lost to an unexpected error", sink.name, n)
                return
            else:
                lane.delivered += n
                if attempt:
                    log.info("sink %s: delivered after %d retries", sink.name, attempt)
                return
