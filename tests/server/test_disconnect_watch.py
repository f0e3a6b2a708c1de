"""The disconnect watch cancels a request's handler only for a client that really left, and gives the task
back uncancelled so the request can still end with its record."""

from __future__ import annotations

import asyncio

from bedrock_proxy.server.app import DisconnectWatch


def client(disconnect: asyncio.Event):
    async def receive() -> dict:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    return receive


async def serve(receive, finished, handler) -> tuple[str, int]:
    """What Gateway.handle does around a handler; returns how it ended and the task's pending cancels."""
    watch = DisconnectWatch(receive, finished)
    try:
        await handler(watch.replay(b"{}"))
        outcome = "answered"
    except asyncio.CancelledError:
        outcome = "client left" if watch.fired else "cancelled from outside"
    finally:
        watch.stop()
    return outcome, asyncio.current_task().cancelling()


async def test_a_client_that_leaves_cancels_the_waiting_handler_and_the_task_is_given_back() -> None:
    left = asyncio.Event()
    reached_upstream = asyncio.Event()

    async def handler(receive) -> None:
        assert (await receive())["body"] == b"{}"
        reached_upstream.set()
        await asyncio.sleep(30)  # Bedrock, slow

    request = asyncio.create_task(serve(client(left), lambda: False, handler))
    await reached_upstream.wait()
    left.set()
    assert await asyncio.wait_for(request, 5) == ("client left", 0)


async def test_the_disconnect_a_server_reports_after_the_answer_cancels_nothing() -> None:
    # uvicorn answers receive() with http.disconnect once the response is complete; work after it goes on
    finished = False

    async def handler(receive) -> None:
        nonlocal finished
        await receive()
        finished = True  # the last body byte was sent
        for _ in range(3):
            await asyncio.sleep(0)  # e.g. a cache store after the answer

    always = asyncio.Event()
    always.set()
    assert await serve(client(always), lambda: finished, handler) == ("answered", 0)


async def test_a_cancel_from_outside_is_not_mistaken_for_a_client_that_left() -> None:
    started = asyncio.Event()

    async def handler(receive) -> None:
        started.set()
        await asyncio.sleep(30)

    async def run() -> tuple[str, int]:
        return await serve(client(asyncio.Event()), lambda: False, handler)

    request = asyncio.create_task(run())
    await started.wait()
    request.cancel()  # shutdown
    outcome, pending = await request
    assert outcome == "cancelled from outside" and pending == 1
