"""Large sink bodies are gzipped on the event loop a slice at a time: the same bytes once decompressed, and
requests keep running in between."""

from __future__ import annotations

import asyncio
import gzip
import os

import pytest

from bedrock_proxy.observability.sink import GZIP_SLICE_BYTES, gzip_yielding


@pytest.mark.parametrize(
    "size", [0, 1, GZIP_SLICE_BYTES - 1, GZIP_SLICE_BYTES, GZIP_SLICE_BYTES + 1, 5 * GZIP_SLICE_BYTES + 7]
)
async def test_a_body_decompresses_to_itself(size: int) -> None:
    body = (os.urandom(64).hex().encode() * (size // 128 + 1))[:size]
    assert gzip.decompress(await gzip_yielding(body)) == body


async def test_other_tasks_run_while_a_large_body_is_compressed() -> None:
    body = b'{"key":"langfuse.observation.input","value":{"stringValue":"Bonjour"}},' * 20_000  # ~1.4 MB
    ticks = 0

    async def request() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(request())
    await asyncio.sleep(0)
    before = ticks
    compressed = await gzip_yielding(body)
    other.cancel()
    assert gzip.decompress(compressed) == body
    assert ticks - before >= len(body) // GZIP_SLICE_BYTES  # a turn for the loop after every slice
