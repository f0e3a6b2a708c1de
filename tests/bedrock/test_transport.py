"""The transport turns every way an upstream answer can go wrong into a GatewayError, and never hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bedrock_proxy.bedrock.credentials import CredentialSource, CredentialSpec
from bedrock_proxy.bedrock.transport import BedrockTransport, Target
from bedrock_proxy.emulator.eventstream import encode_event
from bedrock_proxy.errors import GatewayError

EVENTSTREAM = "application/vnd.amazon.eventstream"
pytestmark = pytest.mark.asyncio(loop_scope="session")  # the fixture server runs on the session loop


async def _not_json(request: web.Request) -> web.Response:
    return web.Response(body=b"<html>proxy error</html>", content_type="text/html")


async def _corrupt_frame(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": EVENTSTREAM})
    await response.prepare(request)
    good = encode_event("messageStart", b'{"role":"assistant"}')
    await response.write(good)
    await response.write(good[:-4] + b"\x00\x00\x00\x00")  # message CRC broken
    await response.write_eof()
    return response


async def _slow_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": EVENTSTREAM})
    await response.prepare(request)
    for index in range(50):
        delta = b'{"contentBlockIndex":0,"delta":{"text":"x"}}'
        await response.write(encode_event("contentBlockDelta", delta))
        await asyncio.sleep(0.1 if index else 0)
    await response.write_eof()
    return response


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/model/{model}/converse", _not_json)
    app.router.add_post("/model/{model}/converse-stream", _corrupt_frame)
    app.router.add_post("/slow/model/{model}/converse-stream", _slow_stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def target(endpoint: str) -> Target:
    spec = CredentialSpec(access_key_id="AKIDEXAMPLE", secret_access_key="secret")
    return Target("anthropic.claude-3-haiku-20240307-v1:0", "eu-west-1", endpoint, CredentialSource(spec))


async def test_an_answer_that_is_not_json_is_a_retryable_502(upstream: str) -> None:
    transport = BedrockTransport()
    try:
        with pytest.raises(GatewayError) as info:
            await transport.call(target(upstream), "converse", {"messages": []}, 5)
    finally:
        await transport.aclose()
    assert info.value.status == 502 and info.value.retryable
    assert info.value.code == "bedrock_bad_response"


async def test_a_corrupt_stream_frame_is_a_502_not_a_crash(upstream: str) -> None:
    transport = BedrockTransport()
    try:
        stream = await transport.stream(target(upstream), "converse-stream", {"messages": []}, 5, 5)
        events = []
        with pytest.raises(GatewayError) as info:
            async for event in stream:
                events.append(event)
    finally:
        await transport.aclose()
    assert events == [("messageStart", {"role": "assistant"})]
    assert info.value.status == 502


async def test_a_stream_never_outlives_its_total_timeout(upstream: str) -> None:
    transport = BedrockTransport()
    started = time.monotonic()
    try:
        stream = await transport.stream(target(upstream + "/slow"), "converse-stream", {}, 5, 0.5)
        received = 0
        with pytest.raises(GatewayError) as info:
            async for _ in stream:
                received += 1
    finally:
        await transport.aclose()
    elapsed = time.monotonic() - started
    assert info.value.status == 408
    assert 1 <= received < 50
    assert elapsed < 3, "the stream (5 s long) was cut near its 0.5 s budget"
