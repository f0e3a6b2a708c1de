"""However an upstream stream fails, the client's stream ends with an error event and never hangs."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.openai.completions import ChunkRenderer
from bedrock_proxy.server.chat import _pump
from bedrock_proxy.server.context import RequestContext

START = ("messageStart", {"role": "assistant"})
DELTA = ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Bonjour"}})


async def failing(error: Exception):
    yield DELTA
    raise error


async def healthy():
    for _ in range(3):
        yield DELTA
        await asyncio.sleep(0)
    yield ("messageStop", {"stopReason": "end_turn"})


def translators(n: int) -> list[StreamTranslator]:
    return [StreamTranslator(ChunkRenderer("req", "claude-3-haiku", 0, False, i), None) for i in range(n)]


async def run(streams) -> tuple[GatewayError | None, list[bytes]]:
    sent: list[bytes] = []

    async def send(message):
        sent.append(message.get("body", b""))

    error = await asyncio.wait_for(
        _pump(send, streams, translators(len(streams)), RequestContext("req")), timeout=5
    )
    return error, sent


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("decoder bug"), GatewayError(429, "Bedrock ThrottlingException: slow down.")],
    ids=["unexpected-exception", "bedrock-error"],
)
@pytest.mark.parametrize("n", [1, 2], ids=["one-choice", "two-choices"])
async def test_a_failing_upstream_stream_ends_with_an_sse_error_event(failure, n):
    streams = [(None, failing(failure), [START])] + [(None, healthy(), [START]) for _ in range(n - 1)]
    error, sent = await run(streams)
    assert error is not None
    last = sent[-1]
    assert last.endswith(b"data: [DONE]\n\n")
    payload = orjson.loads(last.split(b"\n\n")[0].removeprefix(b"data: "))
    assert set(payload["error"]) == {"message", "type", "param", "code"}
    assert payload["error"]["message"] == error.message
    assert error.status == (failure.status if isinstance(failure, GatewayError) else 502)
