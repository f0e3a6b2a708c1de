"""The Python load generator (aiohttp on uvloop, pinned to core 1), measured from the client side.

- `interleaved_rounds`: concurrency 1, direct and gateway calls alternated in a random order per pair.
- `stream_timing`: arrival time of every content chunk of a stream (SSE or AWS event stream).
- `open_loop`: a fixed arrival schedule; latency counts from the scheduled time, so a slow server cannot
  hide its queue by slowing the generator down (no coordinated omission).
- `closed_loop`: N connections back to back for a duration (throughput when wrk is not installed).
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
import orjson

from bench.requests import Call

T = TypeVar("T")


class CallFailed(Exception):
    pass


def session(limit: int = 0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def timed_call(http: aiohttp.ClientSession, call: Call) -> float:
    started = time.perf_counter()
    async with http.post(call.url, data=call.body, headers=call.headers) as response:
        body = await response.read()
        if response.status != 200:
            raise CallFailed(f"{call.url} answered {response.status}: {body[:300]!r}")
    return time.perf_counter() - started


async def _interleaved(
    measure: Callable[[aiohttp.ClientSession, Call], Awaitable[T]],
    direct: Call,
    through: Call,
    rounds: int,
    per_round: int,
    warmup: int,
    seed: int,
) -> list[tuple[list[T], list[T]]]:
    """Per round, `per_round` pairs; each pair measures direct and through one after the other, order
    random (seeded), after `warmup` unrecorded pairs: whatever drifts on the machine hits both sides alike."""
    rng = random.Random(seed)
    out: list[tuple[list[T], list[T]]] = []
    async with session(limit=2) as http:
        for _ in range(warmup):
            await measure(http, direct)
            await measure(http, through)
        for _ in range(rounds):
            d: list[T] = []
            t: list[T] = []
            for _ in range(per_round):
                if rng.random() < 0.5:
                    d.append(await measure(http, direct))
                    t.append(await measure(http, through))
                else:
                    t.append(await measure(http, through))
                    d.append(await measure(http, direct))
            out.append((d, t))
    return out


async def interleaved_rounds(
    direct: Call, through: Call, rounds: int, per_round: int, warmup: int = 20
) -> list[tuple[list[float], list[float]]]:
    """Request latencies, direct and through the gateway, in interleaved pairs."""
    return await _interleaved(timed_call, direct, through, rounds, per_round, warmup, seed=7)


@dataclass
class StreamTiming:
    """Seconds from sending the request to each content chunk's arrival."""

    arrivals: list[float] = field(default_factory=list)
    total: float = 0.0

    @property
    def ttft(self) -> float:
        return self.arrivals[0] if self.arrivals else float("nan")

    @property
    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


def _complete_events(buffer: bytearray) -> Iterator[bytes]:
    """Consume the complete SSE events at the start of `buffer` (a partial one stays for the next piece)."""
    while (end := buffer.find(b"\n\n")) >= 0:
        event = bytes(buffer[:end])
        del buffer[: end + 2]
        yield event


def _sse_contents(buffer: bytearray) -> int:
    """Consume complete SSE events from `buffer`; count those carrying content text."""
    count = 0
    for event in _complete_events(buffer):
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                continue
            chunk = orjson.loads(data)
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    count += 1
                    break
    return count


def _anthropic_sse_contents(buffer: bytearray) -> int:
    """Consume complete Anthropic SSE events from `buffer`; count the text deltas."""
    return sum(
        1
        for event in _complete_events(buffer)
        if b"event: content_block_delta" in event and b'"text_delta"' in event
    )


def _eventstream_contents(buffer: bytearray) -> int:
    """Consume complete AWS event-stream messages; count contentBlockDelta events."""
    count = 0
    while len(buffer) >= 12:
        total, headers_length = struct.unpack_from(">II", buffer, 0)
        if len(buffer) < total:
            return count
        headers = bytes(buffer[12 : 12 + headers_length])
        del buffer[:total]
        if b"contentBlockDelta" in headers:
            count += 1
    return count


async def stream_timing(http: aiohttp.ClientSession, call: Call) -> StreamTiming:
    parsers = {"sse": _sse_contents, "anthropic-sse": _anthropic_sse_contents}
    parse: Callable[[bytearray], int] = parsers.get(call.stream, _eventstream_contents)
    timing = StreamTiming()
    buffer = bytearray()
    started = time.perf_counter()
    async with http.post(call.url, data=call.body, headers=call.headers) as response:
        if response.status != 200:
            raise CallFailed(f"{call.url} answered {response.status}: {(await response.read())[:300]!r}")
        async for piece in response.content.iter_any():
            now = time.perf_counter() - started
            buffer += piece
            timing.arrivals.extend([now] * parse(buffer))
    timing.total = time.perf_counter() - started
    return timing


async def interleaved_streams(
    direct: Call, through: Call, rounds: int, per_round: int, warmup: int = 3
) -> list[tuple[list[StreamTiming], list[StreamTiming]]]:
    """Stream timings, direct and through the gateway, in interleaved pairs."""
    return await _interleaved(stream_timing, direct, through, rounds, per_round, warmup, seed=11)


@dataclass
class LoadResult:
    latencies: list[float]
    errors: int
    seconds: float
    first_error: str = ""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def open_loop(call: Call, rate: float, seconds: float) -> LoadResult:
    """Start one request every 1/rate s whatever the previous ones are doing; latency from the schedule."""
    count = max(1, int(rate * seconds))
    latencies: list[float] = []
    errors: list[str] = []

    async def one(http: aiohttp.ClientSession, scheduled: float) -> None:
        try:
            async with http.post(call.url, data=call.body, headers=call.headers) as response:
                await response.read()
                if response.status != 200:
                    errors.append(f"status {response.status}")
                    return
            latencies.append(time.perf_counter() - scheduled)
        except (TimeoutError, aiohttp.ClientError) as exc:
            errors.append(repr(exc))

    async with session(limit=0) as http:
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return LoadResult(latencies, len(errors), elapsed, errors[0] if errors else "")


async def closed_loop(call: Call, connections: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    async def worker(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                async with http.post(call.url, data=call.body, headers=call.headers) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError as exc:
                errors.append(repr(exc))
                continue
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors.append(f"status {response.status}")

    started = time.perf_counter()
    async with session(limit=connections) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))
    return LoadResult(latencies, len(errors), time.perf_counter() - started, errors[0] if errors else "")


async def exact_count(call: Call, count: int, connections: int) -> int:
    """Send exactly `count` requests over `connections` connections and wait for every answer."""
    left = count
    done = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal left, done
        while left > 0:
            left -= 1
            await timed_call(http, call)
            done += 1

    async with session(limit=connections) as http:
        await asyncio.gather(*(worker(http) for _ in range(connections)))
    return done


async def repeat(call: Call, times: int, warmup: int = 2) -> list[float]:
    async with session(limit=1) as http:
        for _ in range(warmup):
            await timed_call(http, call)
        return [await timed_call(http, call) for _ in range(times)]


def run(coro_factory: Callable[[], object]) -> object:
    """Run one measurement in a fresh uvloop event loop."""
    import uvloop

    return uvloop.run(coro_factory())  # type: ignore[arg-type]


def flatten(values: Sequence[Sequence[float]]) -> list[float]:
    return [v for group in values for v in group]
