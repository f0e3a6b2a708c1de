"""Metrics across worker processes: with `serve --num-workers N` a scrape reaches one worker at random, so
each worker publishes its metric values and every worker's /metrics adds up all of them.

In the spirit of prometheus_client's multiprocess mode, but for GatewayMetrics' plain dicts. The parent
`serve` process creates a fresh directory before forking and names it in BEDROCK_PROXY_METRICS_DIR. Each
worker writes `worker-<pid>.json` about every second from a background task and once more at shutdown,
atomically (a temp file, then os.replace), so the request path does not change and a scrape never reads half
a file. A scrape reads the other workers' files and merges them with its own live values.

Merge rules, per metric: counters and histograms are summed over every snapshot, also those of workers that
exited (Prometheus counters must not go backwards when a worker is replaced); in-flight gauges are summed
and deployment states take the maximum, over live workers only. A worker counts as live while its pid runs
(and is not a zombie) and its file is fresh: a pid reused by an unrelated process stops being counted once
the file is `STALE_AFTER` seconds old. A new worker that finds a file with its own pid (pid reuse) renames
it to `retired-<pid>-<ns>.json` first, so those counts stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_proxy.config.knobs import env_seconds

log = logging.getLogger("bedrock_proxy.observability")

METRICS_DIR_ENV = "BEDROCK_PROXY_METRICS_DIR"
INTERVAL_ENV = "BEDROCK_PROXY_METRICS_SNAPSHOT_SECONDS"
DEFAULT_INTERVAL = 1.0
STALE_AFTER = 60.0  # seconds without a write (or touch) after which a worker's gauges no longer count

# How one metric's series combine across workers.
SUM = "sum"  # counters, histograms: every worker that ever ran
SUM_LIVE = "sum_live"  # gauges of amounts (in-flight requests): live workers only
MAX_LIVE = "max_live"  # gauges of states (deployment health): the worst a live worker sees

SINK_GAUGES = frozenset({"queued"})  # the other sink stats (delivered, retried, dropped) are counters
SINK_STATS = ("queued", "delivered", "retried", "dropped")

# {"pid": int, "metrics": {name: [[labels, value], ...]}, "sinks": {sink: {stat: n}}}; a histogram's value
# is its per-bucket counts followed by its sum.
Snapshot = Mapping[str, Any]


@dataclass
class Merged:
    """Every worker's values added up: metric name -> label tuple -> value (a list for histograms)."""

    metrics: dict[str, dict[tuple[str, ...], Any]] = field(default_factory=dict)
    sinks: dict[str, dict[str, float]] = field(default_factory=dict)
    live_workers: int = 0
    exited_workers: int = 0


def merge(snapshots: Iterable[tuple[Snapshot, bool]], rules: Mapping[str, str]) -> Merged:
    """Combine (snapshot, live) pairs by each metric's rule; metrics without a rule are ignored (a file
    written by another version of the gateway cannot add series this one does not declare)."""
    merged = Merged(metrics={name: {} for name in rules})
    for snapshot, live in snapshots:
        if live:
            merged.live_workers += 1
        else:
            merged.exited_workers += 1
        for name, series in (snapshot.get("metrics") or {}).items():
            rule = rules.get(name)
            if rule is None or (rule != SUM and not live):
                continue
            target = merged.metrics[name]
            for labels, value in series:
                key = tuple(labels)
                old = target.get(key)
                if old is None:
                    target[key] = list(value) if isinstance(value, list) else value
                elif isinstance(old, list):
                    if isinstance(value, list) and len(value) == len(old):
                        for i, count in enumerate(value):
                            old[i] += count
                elif rule == MAX_LIVE:
                    target[key] = max(old, value)
                else:
                    target[key] = old + value
        for sink, stats in (snapshot.get("sinks") or {}).items():
            total = merged.sinks.setdefault(sink, {})
            for stat, count in stats.items():
                if live or stat not in SINK_GAUGES:
                    total[stat] = total.get(stat, 0) + count
    return merged


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by uvicorn's supervisor) counts as exited."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return True  # no /proc (macOS): the signal check is all we have
    end = stat.rfind(b")")  # the command name may contain spaces and parentheses
    return stat[end + 2 : end + 3] != b"Z"


class SnapshotDirectory:
    """The shared directory as one worker sees it: its own file to write, the others' to read."""

    def __init__(
        self,
        path: str,
        pid: int | None = None,
        *,
        stale_after: float = STALE_AFTER,
        alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        self.path = path
        self.pid = os.getpid() if pid is None else pid
        self.stale_after = stale_after
        self.alive = alive
        self.own_name = f"worker-{self.pid}.json"
        self.own_path = os.path.join(path, self.own_name)
        self._temp_path = os.path.join(path, f".{self.own_name}.tmp")

    def claim(self) -> None:
        """Keep the counts of an earlier worker that had our pid: rename its file before we write ours."""
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.own_path, os.path.join(self.path, f"retired-{self.pid}-{time.time_ns()}.json"))

    def write(self, payload: bytes) -> None:
        with open(self._temp_path, "wb") as temp:
            temp.write(payload)
        os.replace(self._temp_path, self.own_path)

    def touch(self) -> None:
        """Nothing changed since the last write: only say that this worker is still there."""
        os.utime(self.own_path)

    def others(self) -> Iterator[tuple[Snapshot, bool]]:
        """Every other worker's last snapshot and whether that worker is live."""
        now = time.time()
        try:
            names = os.listdir(self.path)
        except OSError as error:  # removed by the parent while this worker shuts down
            log.warning("metrics of other workers unavailable: %s", error)
            return
        for name in names:
            if name == self.own_name or name.startswith(".") or not name.endswith(".json"):
                continue
            kind, _, rest = name[: -len(".json")].partition("-")
            pid_text = rest.partition("-")[0]
            if kind not in ("worker", "retired") or not pid_text.isdigit():
                continue
            try:
                with open(os.path.join(self.path, name), "rb") as snapshot_file:
                    written = os.fstat(snapshot_file.fileno()).st_mtime
                    snapshot = orjson.loads(snapshot_file.read())
            except FileNotFoundError:
                continue  # retired between listdir and open: a rare pid reuse
            except (OSError, orjson.JSONDecodeError) as error:
                log.warning("metrics snapshot %s unreadable, left out of this scrape: %s", name, error)
                continue
            live = kind == "worker" and now - written <= self.stale_after and self.alive(int(pid_text))
            yield snapshot, live


class SnapshotPublisher:
    """Writes one worker's snapshot every `interval` seconds (and at close) and merges on scrape."""

    def __init__(
        self,
        directory: SnapshotDirectory,
        snapshot: Callable[[], Snapshot],
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.directory = directory
        self.snapshot = snapshot
        self.interval = interval
        self._last: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        """Claim our file, write it once, then keep it current from a background task."""
        self.directory.claim()
        self.publish()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-snapshots")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.publish()

    def publish(self) -> None:
        """One snapshot now. Never raises: a full disk must not stop the worker, only its sharing."""
        try:
            payload = orjson.dumps(self.snapshot())
            if payload == self._last:
                self.directory.touch()
            else:
                self.directory.write(payload)
                self._last = payload
            if self._failing:
                log.warning("metrics snapshots are written again to %s", self.directory.path)
                self._failing = False
        except OSError as error:
            self._last = None
            if not self._failing:
                log.warning(
                    "cannot write the metrics snapshot to %s (other workers' /metrics miss this one): %s",
                    self.directory.path,
                    error,
                )
                self._failing = True

    def gather(self, rules: Mapping[str, str]) -> Merged:
        """This worker's live values plus every other worker's last snapshot."""
        return merge([(self.snapshot(), True), *self.directory.others()], rules)

    async def aclose(self) -> None:
        """Stop the task and write the final values (after the sinks flushed: their counts are final)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.publish()


def publisher_from_env(
    snapshot: Callable[[], Snapshot], environ: Mapping[str, str] = os.environ
) -> SnapshotPublisher | None:
    """A publisher when the parent `serve` process set up a shared directory; None for a single worker."""
    path = environ.get(METRICS_DIR_ENV)
    if not path:
        return None
    interval = env_seconds(environ, INTERVAL_ENV, DEFAULT_INTERVAL)
    return SnapshotPublisher(SnapshotDirectory(path), snapshot, interval)


@contextlib.contextmanager
def shared_metrics_dir(environ: MutableMapping[str, str] = os.environ) -> Iterator[str]:
    """For the parent `serve` process: a fresh directory (under TMPDIR) named in BEDROCK_PROXY_METRICS_DIR
    for the workers it starts, removed when they are all gone. Fresh, so no earlier run's counts leak in."""
    path = tempfile.mkdtemp(prefix="bedrock-proxy-metrics-")
    previous = environ.get(METRICS_DIR_ENV)
    environ[METRICS_DIR_ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            environ.pop(METRICS_DIR_ENV, None)
        else:
            environ[METRICS_DIR_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)
