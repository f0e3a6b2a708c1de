"""The log handler never makes the logging thread wait for the log reader: lines are queued (bounded) and
written by a thread of its own; lines dropped while the reader stalled are counted and said."""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from collections.abc import Iterator

import pytest

from bedrock_proxy.observability.logs import TextFormatter
from bedrock_proxy.observability.logwriter import BackgroundLineHandler

NOTICE = re.compile(
    r"WARNING bedrock_proxy\.logs \[-\] (\d+) log line\(s\) dropped: the log output \(stderr\)"
)


class StalledStream(io.StringIO):
    """A stream whose writes block until `resume` is set, like a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = threading.Event()

    def write(self, text: str) -> int:
        self.resume.wait()
        return super().write(text)


@pytest.fixture
def stalled() -> Iterator[StalledStream]:
    stream = StalledStream()
    yield stream
    stream.resume.set()  # the writer thread ends with its handler


def logger_to(handler: logging.Handler) -> logging.Logger:
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger(f"bedrock_proxy.test.logwriter.{id(handler)}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return logger


def test_logging_returns_at_once_while_the_reader_is_stalled(stalled: StalledStream) -> None:
    handler = BackgroundLineHandler(stalled, max_lines=100)
    logger = logger_to(handler)
    started = time.monotonic()
    for number in range(50):
        logger.info("line %d", number)
    assert time.monotonic() - started < 1.0
    stalled.resume.set()
    handler.flush()
    lines = stalled.getvalue().splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in lines] == [str(number) for number in range(50)]
    handler.close()


def test_lines_beyond_the_bound_are_dropped_counted_and_said(stalled: StalledStream) -> None:
    handler = BackgroundLineHandler(stalled, max_lines=5)
    logger = logger_to(handler)
    for number in range(40):
        logger.info("line %d", number)
    # the writer holds one line (blocked in write), the queue five more: the rest are dropped
    assert 40 - 6 <= handler.dropped_total <= 40 - 5
    stalled.resume.set()
    handler.flush()  # the queued lines written
    logger.info("after the stall")
    handler.flush()
    text = stalled.getvalue()
    # said before the next line written (twice if the writer woke up in the middle of the burst)
    said = [int(count) for count in NOTICE.findall(text)]
    assert sum(said) == handler.dropped_total and said
    assert text.rindex("log line(s) dropped") < text.index("after the stall")
    assert "line 0\n" in text
    handler.close()


def test_flush_and_close_give_up_on_a_stalled_reader(stalled: StalledStream) -> None:
    handler = BackgroundLineHandler(stalled, flush_timeout=0.3)
    logger_to(handler).info("never read")
    started = time.monotonic()
    handler.close()  # what logging.shutdown() does at exit: the process must still end
    assert time.monotonic() - started < 2.0


def test_a_closed_stream_is_no_error(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    stream.close()
    handler = BackgroundLineHandler(stream)
    logger_to(handler).info("nowhere to go")
    handler.close()
    assert capsys.readouterr().err == ""  # no "--- Logging error ---" report either
