"""Log lines written by a thread of their own, so that a log reader that stalls never stops the gateway.

A plain `logging.StreamHandler` writes to stderr on the thread that logs, the event loop's. When nothing
reads stderr fast enough (a pipe nobody drains, a stuck log shipper, a paused terminal), the write blocks
once the pipe's buffer (64 KiB on Linux) is full, and with it the event loop: every request, health checks
and shutdown included. Here the caller only formats its line (request id and redaction happen in its own
context) and queues it; one thread writes. A bounded queue keeps memory flat: when it is full, lines are
dropped and counted, and the writer says how many before its next line.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import TextIO

MAX_QUEUED_LINES = 10_000
FLUSH_TIMEOUT = 2.0  # seconds flush (and so shutdown) waits for a stalled reader before giving up


class BackgroundLineHandler(logging.Handler):
    """Formats records on the logging thread, writes the lines to `stream` from a writer thread."""

    def __init__(
        self, stream: TextIO, *, max_lines: int = MAX_QUEUED_LINES, flush_timeout: float = FLUSH_TIMEOUT
    ) -> None:
        super().__init__()
        self.stream = stream
        self.flush_timeout = flush_timeout
        self._lines: queue.Queue[str | None] = queue.Queue(maxsize=max_lines)
        self._dropped_lock = threading.Lock()
        self._dropped = 0
        self.dropped_total = 0  # every line dropped since start (the tests read it)
        self._writer = threading.Thread(target=self._write_lines, name="log-writer", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted: logging's own report, as any handler
            self.handleError(record)
            return
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            with self._dropped_lock:
                self._dropped += 1
                self.dropped_total += 1

    def flush(self) -> None:
        """Wait until the queued lines are written, at most `flush_timeout` seconds (a stalled reader)."""
        deadline = time.monotonic() + self.flush_timeout
        with self._lines.all_tasks_done:
            while self._lines.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._lines.all_tasks_done.wait(remaining)

    def close(self) -> None:
        self.flush()
        # the writer's signal to end; when the queue is full the writer is stuck on a stalled reader, and as
        # a daemon thread it ends with the process
        with contextlib.suppress(queue.Full):
            self._lines.put_nowait(None)
        super().close()

    def _write_lines(self) -> None:
        while True:
            line = self._lines.get()
            try:
                if line is None:
                    return
                dropped = self._take_dropped()
                if dropped:
                    self._write(self.format(_dropped_notice(dropped)))
                self._write(line)
            finally:
                self._lines.task_done()

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the reader went away (a closed pipe, a closed file): nothing to tell
            pass

    def _take_dropped(self) -> int:
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, 0
        return dropped


def _dropped_notice(count: int) -> logging.LogRecord:
    return logging.LogRecord(
        "bedrock_proxy.logs",
        logging.WARNING,
        __file__,
        0,
        "%d log line(s) dropped: the log output (stderr) was not read as fast as the gateway wrote it",
        (count,),
        None,
    )
