"""Langfuse slow, down, answering 429 or 500, then back: requests through the gateway do not notice, nothing
within the buffer is lost, what is beyond it is dropped and counted, and SIGTERM flushes the queue."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.support import (
    LANGFUSE_SETTINGS,
    Gateway,
    chat,
    config_text,
    eventually,
    gateway,
    langfuse_env,
    metric,
    metric_samples,
    new_id,
)
from tests.fakes.langfuse_server import FakeLangfuse

REQUESTS = 20


@pytest.fixture(autouse=True)
def healthy_langfuse(fake_langfuse: FakeLangfuse) -> Iterator[None]:
    fake_langfuse.reset()
    yield
    if fake_langfuse._loop is None:  # a test stopped it
        fake_langfuse.start(fake_langfuse.port)
    fake_langfuse.reset()


def delivered(fake: FakeLangfuse) -> set[str]:
    """Request ids whose generation reached Langfuse."""
    return {
        s["attributes"]["langfuse.observation.metadata.request_id"]
        for s in fake.spans
        if s["attributes"].get("langfuse.observation.type") == "generation"
    }


def send(base: str, count: int) -> tuple[list[str], list[float]]:
    ids, seconds = [], []
    for _ in range(count):
        request_id = new_id()
        answer = chat(base, request_id)
        assert answer.status == 200
        ids.append(request_id)
        seconds.append(answer.seconds)
    return ids, seconds


def sink_count(base: str, outcome: str) -> float:
    return metric(metric_samples(base), "bedrock_proxy_sink_records_total", sink="langfuse", outcome=outcome)


def queue_depth(base: str) -> float:
    return metric(metric_samples(base), "bedrock_proxy_sink_queue_depth", sink="langfuse")


def slow(fake: FakeLangfuse) -> Callable[[], None]:
    fake.set_mode(delay=3.0)  # longer than any request here: a request waiting on it would show
    return lambda: fake.set_mode(delay=0.0)


def refusing(fake: FakeLangfuse) -> Callable[[], None]:
    fake.stop()  # connection refused
    return lambda: fake.start(fake.port)


def dropping(fake: FakeLangfuse) -> Callable[[], None]:
    fake.set_mode(down=True)  # connections accepted, then cut
    return lambda: fake.set_mode(down=False)


def answering(status: int) -> Callable[[FakeLangfuse], Callable[[], None]]:
    def fault(fake: FakeLangfuse) -> Callable[[], None]:
        fake.set_mode(status=status, retry_after=0 if status == 429 else None)
        return lambda: fake.set_mode(status=200, retry_after=None)

    return fault


@pytest.mark.parametrize(
    "fault",
    [slow, refusing, dropping, answering(429), answering(500), answering(503)],
    ids=["slow", "down", "connection-cut", "429", "500", "503"],
)
def test_a_failing_langfuse_neither_slows_requests_nor_loses_records(
    proxy: Gateway, fake_langfuse: FakeLangfuse, fault: Callable[[FakeLangfuse], Callable[[], None]]
) -> None:
    healthy_ids, healthy_seconds = send(proxy.url, REQUESTS)
    eventually(lambda: set(healthy_ids) <= delivered(fake_langfuse))
    retried_before = sink_count(proxy.url, "retried")

    recover = fault(fake_langfuse)
    faulty_ids, faulty_seconds = send(proxy.url, REQUESTS)
    # generous bounds (the machine is shared): waiting on the sink would add 3 s or a timeout per request
    assert statistics.median(faulty_seconds) < 3 * statistics.median(healthy_seconds) + 0.1
    assert max(faulty_seconds) < 2.5
    if fault is not slow:
        eventually(lambda: sink_count(proxy.url, "retried") > retried_before, message="no retry counted")
    recover()

    eventually(lambda: set(faulty_ids) <= delivered(fake_langfuse), timeout=30, message="records were lost")
    assert sink_count(proxy.url, "dropped") == 0
    assert eventually(lambda: queue_depth(proxy.url) == 0 or None) is True


def test_beyond_the_buffer_the_oldest_records_are_dropped_and_counted(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path: Path
) -> None:
    env = langfuse_env(
        fake_langfuse.url, BEDROCK_PROXY_SINK_QUEUE_SIZE="5", BEDROCK_PROXY_SINK_FLUSH_SECONDS="2"
    )
    with gateway(config_text(LANGFUSE_SETTINGS), tmp_path, emulator_url=emulator_url, env=env) as small:
        fake_langfuse.stop()
        ids, _ = send(small.url, REQUESTS)
        dropped = sink_count(small.url, "dropped")
        queued = queue_depth(small.url)
        assert dropped + queued == REQUESTS
        # the buffer holds 5; the batch being retried (taken before the buffer filled) holds the rest
        assert dropped > 0 and queued < REQUESTS
        fake_langfuse.start(fake_langfuse.port)
        eventually(lambda: queue_depth(small.url) == 0 or None, timeout=30)
        arrived = delivered(fake_langfuse)
        assert set(ids[-5:]) <= arrived, "the newest records are kept"
        assert len(arrived & set(ids)) == queued
        assert sink_count(small.url, "delivered") == queued
        assert sink_count(small.url, "dropped") == dropped


def test_sigterm_delivers_every_queued_record_before_exit(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path: Path
) -> None:
    with gateway(
        config_text(LANGFUSE_SETTINGS),
        tmp_path,
        emulator_url=emulator_url,
        env=langfuse_env(fake_langfuse.url),
    ) as running:
        fake_langfuse.set_mode(delay=0.5)  # every export is slow: records are still queued at SIGTERM
        ids, _ = send(running.url, 10)
        running.stop()
        assert set(ids) <= delivered(fake_langfuse), "queued records were not flushed at shutdown"
        assert "not delivered before shutdown" not in running.output()


def test_sigterm_gives_up_after_the_flush_budget_and_says_what_was_lost(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path: Path
) -> None:
    env = langfuse_env(fake_langfuse.url, BEDROCK_PROXY_SINK_FLUSH_SECONDS="1")
    with gateway(config_text(LANGFUSE_SETTINGS), tmp_path, emulator_url=emulator_url, env=env) as running:
        fake_langfuse.stop()
        send(running.url, 3)
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 10
        output = running.output()
        assert "sink langfuse: 3 records not delivered before shutdown" in output
