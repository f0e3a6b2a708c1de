"""Sink slow, down or answers 429/500: the gateway does not notice, nothing within the buffer is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from bedrock_proxy.alerting import Alerter
from bedrock_proxy.observability.dispatch import RecordDispatcher
from bedrock_proxy.observability.langfuse import LangfuseOtlpSink
from bedrock_proxy.observability.sink import PermanentSinkError
from tests.fakes.langfuse_server import FakeLangfuse
from tests.observability.conftest import PUBLIC_KEY, SECRET_KEY
from tests.observability.records import record


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def dispatcher(server: FakeLangfuse, queue_size: int = 1000) -> RecordDispatcher:
    sink = LangfuseOtlpSink(server.url, PUBLIC_KEY, SECRET_KEY, timeout=2.0)
    return RecordDispatcher([sink], queue_size=queue_size, linger=0.0, backoff_base=0.02, backoff_max=0.2)


def generations(server: FakeLangfuse) -> set[str]:
    return {
        s["attributes"]["langfuse.observation.metadata.request_id"]
        for s in server.spans
        if s["attributes"]["langfuse.observation.type"] == "generation"
    }


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_errors_then_recovery_lose_nothing(fake_langfuse: FakeLangfuse, status: int) -> None:
    fake_langfuse.set_mode(status=status)
    d = dispatcher(fake_langfuse)
    await d.start()
    records = [record() for _ in range(50)]
    for r in records:
        d.submit(r)
    await eventually(lambda: d.stats()["langfuse"]["retried"] > 0)
    fake_langfuse.set_mode(status=200)
    await eventually(lambda: d.stats()["langfuse"]["delivered"] == 50)
    await d.aclose(timeout=2)
    assert generations(fake_langfuse) == {r.request_id for r in records}
    assert d.stats()["langfuse"]["dropped"] == 0


async def test_sink_down_then_back_loses_nothing(fake_langfuse: FakeLangfuse) -> None:
    d = dispatcher(fake_langfuse)
    await d.start()
    fake_langfuse.stop()  # connection refused from now on
    records = [record() for _ in range(30)]
    for r in records:
        d.submit(r)
    await eventually(lambda: d.stats()["langfuse"]["retried"] >= 30)
    await asyncio.sleep(0.3)  # a few more refused retries
    fake_langfuse.start(fake_langfuse.port)
    await eventually(lambda: d.stats()["langfuse"]["delivered"] == 30)
    await d.aclose(timeout=2)
    assert generations(fake_langfuse) == {r.request_id for r in records}
    assert d.stats()["langfuse"]["dropped"] == 0


async def test_records_beyond_the_buffer_are_dropped_oldest_first_and_counted(
    fake_langfuse: FakeLangfuse,
) -> None:
    d = dispatcher(fake_langfuse, queue_size=10)
    records = [record() for _ in range(25)]
    for r in records:  # not started yet: everything waits in the buffer
        d.submit(r)
    assert d.stats()["langfuse"] == {
        "queued": 10,
        "delivered": 0,
        "retried": 0,
        "dropped": 15,
        "credential_failures": 0,
        "capacity": 10,
    }
    await d.start()
    await d.aclose(timeout=5)
    assert generations(fake_langfuse) == {r.request_id for r in records[15:]}
    assert d.stats()["langfuse"]["delivered"] == 10


async def test_submit_never_waits_for_a_slow_sink(fake_langfuse: FakeLangfuse) -> None:
    fake_langfuse.set_mode(delay=0.5)
    d = dispatcher(fake_langfuse, queue_size=20_000)
    await d.start()
    records = [record() for _ in range(10_000)]
    await asyncio.sleep(0)
    started = time.perf_counter()
    for r in records:
        d.submit(r)
    per_submit = (time.perf_counter() - started) / len(records)
    assert per_submit < 20e-6  # measured about 0.3 µs; a generous bound for slow CI machines
    # the event loop stays free while the sink is slow
    tick = time.perf_counter()
    await asyncio.sleep(0.01)
    assert time.perf_counter() - tick < 0.2
    fake_langfuse.set_mode(delay=0.0)
    await d.aclose(timeout=20)
    assert d.stats()["langfuse"]["delivered"] == 10_000


async def test_retry_after_is_honoured(fake_langfuse: FakeLangfuse) -> None:
    fake_langfuse.set_mode(status=429, retry_after=1)
    d = dispatcher(fake_langfuse)
    await d.start()
    d.submit(record())
    await eventually(lambda: fake_langfuse.counts["rejected"] == 1)
    await asyncio.sleep(0.5)
    assert fake_langfuse.counts["rejected"] == 1  # our backoff alone (<= 0.2 s) would have retried already
    fake_langfuse.set_mode(status=200)
    await eventually(lambda: d.stats()["langfuse"]["delivered"] == 1, timeout=3)
    await d.aclose(timeout=1)


async def test_close_flushes_everything_queued(fake_langfuse: FakeLangfuse) -> None:
    d = dispatcher(fake_langfuse)
    await d.start()
    records = [record() for _ in range(250)]
    for r in records:
        d.submit(r)
    await d.aclose(timeout=5)
    assert generations(fake_langfuse) == {r.request_id for r in records}
    assert d.stats()["langfuse"]["queued"] == 0


async def test_close_with_the_sink_down_gives_up_at_the_deadline_and_counts_the_loss(
    fake_langfuse: FakeLangfuse,
) -> None:
    fake_langfuse.stop()
    d = dispatcher(fake_langfuse)
    await d.start()
    for _ in range(5):
        d.submit(record())
    started = time.monotonic()
    await d.aclose(timeout=0.5)
    assert time.monotonic() - started < 2
    assert d.stats()["langfuse"]["dropped"] == 5
    assert d.stats()["langfuse"]["queued"] == 0


class _Refusing:
    name = "refusing"
    max_batch = 10

    def __init__(self) -> None:
        self.calls = 0

    async def send_batch(self, records):
        self.calls += 1
        raise PermanentSinkError("bad request")

    async def aclose(self) -> None:
        pass


async def test_a_permanent_refusal_is_not_retried_and_counted_as_dropped() -> None:
    sink = _Refusing()
    d = RecordDispatcher([sink], linger=0.0)
    await d.start()
    for _ in range(3):
        d.submit(record())
    await d.aclose(timeout=1)
    assert sink.calls == 1
    assert d.stats()["refusing"]["dropped"] == 3


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_keep_the_records_and_alert_until_the_key_is_fixed(
    fake_langfuse: FakeLangfuse, status: int
) -> None:
    """Issue 14, finding 10: a Langfuse 401 used to drop the records for good. Now they wait in the bounded
    buffer, past max_retry_seconds too, an alert names the sink, and a fixed key delivers every one."""
    fake_langfuse.set_mode(status=status)
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY, timeout=2.0)
    d = RecordDispatcher(
        [sink], queue_size=1000, linger=0.0, backoff_base=0.02, backoff_max=0.05, max_retry_seconds=0.1
    )
    alerter = Alerter(poll_seconds=60)
    alerter.watch_sinks(d.stats)
    await d.start()
    records = [record() for _ in range(40)]
    for r in records:
        d.submit(r)
    await eventually(lambda: d.stats()["langfuse"]["credential_failures"] >= 5)
    await asyncio.sleep(0.3)  # well past max_retry_seconds: an ordinary error would have dropped the batch
    assert d.stats()["langfuse"]["dropped"] == 0
    alerter.check_sinks()
    [alert] = alerter._queue
    assert alert.sink == "langfuse" and "credentials" in alert.text and "fix the key" in alert.text
    fake_langfuse.set_mode(status=200)  # the key is fixed on Langfuse's side
    await eventually(lambda: d.stats()["langfuse"]["delivered"] == 40)
    await d.aclose(timeout=2)
    assert generations(fake_langfuse) == {r.request_id for r in records}
    assert d.stats()["langfuse"]["dropped"] == 0
