"""Several worker processes, one /metrics: how snapshots merge, which workers count as live, and what a
scrape of one worker shows once its siblings published (the workers simulated with files in one process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bedrock_proxy.observability.metrics import COOLDOWN, HEALTHY, GatewayMetrics
from bedrock_proxy.observability.multiprocess import (
    INTERVAL_ENV,
    MAX_LIVE,
    METRICS_DIR_ENV,
    SUM,
    SUM_LIVE,
    SnapshotDirectory,
    merge,
    pid_alive,
    publisher_from_env,
    shared_metrics_dir,
)
from tests.observability.records import record

RULES = {"requests": SUM, "latency": SUM, "in_flight": SUM_LIVE, "state": MAX_LIVE}


def snap(pid: int, metrics: dict | None = None, sinks: dict | None = None) -> dict:
    return {"pid": pid, "metrics": metrics or {}, "sinks": sinks or {}}


MERGE_CASES = [
    pytest.param(
        [
            (snap(1, {"requests": [[["a", "200"], 3.0]]}), True),
            (snap(2, {"requests": [[["a", "200"], 4.0]]}), True),
        ],
        "requests",
        {("a", "200"): 7.0},
        id="counters of live workers add up",
    ),
    pytest.param(
        [
            (snap(1, {"requests": [[["a", "200"], 3.0]]}), True),
            (snap(2, {"requests": [[["a", "200"], 4.0], [["b", "500"], 1.0]]}), False),
        ],
        "requests",
        {("a", "200"): 7.0, ("b", "500"): 1.0},
        id="counters of an exited worker are kept",
    ),
    pytest.param(
        [
            (snap(1, {"latency": [[["a"], [1.0, 0.0, 2.0, 0.75]]]}), True),
            (snap(2, {"latency": [[["a"], [0.0, 1.0, 0.0, 0.5]]]}), False),
        ],
        "latency",
        {("a",): [1.0, 1.0, 2.0, 1.25]},
        id="histogram buckets, counts and sums add up, an exited worker's too",
    ),
    pytest.param(
        [
            (snap(1, {"in_flight": [[["/v1/chat/completions"], 2.0]]}), True),
            (snap(2, {"in_flight": [[["/v1/chat/completions"], 3.0]]}), True),
            (snap(3, {"in_flight": [[["/v1/chat/completions"], 5.0]]}), False),
        ],
        "in_flight",
        {("/v1/chat/completions",): 5.0},
        id="in-flight requests add up over live workers only",
    ),
    pytest.param(
        [
            (snap(1, {"state": [[["claude#0", "claude"], 0.0]]}), True),
            (snap(2, {"state": [[["claude#0", "claude"], 2.0], [["titan#0", "titan"], 1.0]]}), True),
            (snap(3, {"state": [[["claude#0", "claude"], 2.0], [["nova#0", "nova"], 2.0]]}), False),
        ],
        "state",
        {("claude#0", "claude"): 2.0, ("titan#0", "titan"): 1.0},
        id="a deployment's state is the worst a live worker sees",
    ),
    pytest.param(
        [
            (snap(1, {"state": [[["claude#0", "claude"], 0.0]]}), True),
            (snap(2, {"unknown": [[["x"], 9.0]]}), True),
        ],
        "unknown",
        None,
        id="a metric this version does not declare is left out",
    ),
    pytest.param(
        [
            (snap(1, {"latency": [[["a"], [1.0, 0.0, 0.5]]]}), True),
            (snap(2, {"latency": [[["a"], [1.0, 0.0, 0.0, 0.5]]]}), True),
        ],
        "latency",
        {("a",): [1.0, 0.0, 0.5]},
        id="a histogram with other buckets is not mixed in",
    ),
]


@pytest.mark.parametrize(("snapshots", "name", "expected"), MERGE_CASES)
def test_merging_snapshots_follows_each_metrics_rule(snapshots, name, expected) -> None:
    merged = merge(snapshots, RULES)
    assert merged.metrics.get(name) == expected


def test_merging_does_not_change_the_snapshots_it_reads() -> None:
    live = snap(1, {"latency": [[("a",), [1.0, 0.5]]]})
    merge([(live, True), (snap(2, {"latency": [[["a"], [1.0, 0.5]]]}), True)], RULES)
    assert live["metrics"]["latency"][0][1] == [1.0, 0.5]


def test_sink_queues_add_up_over_live_workers_and_outcomes_over_all() -> None:
    stats = {"queued": 4, "delivered": 10, "retried": 1, "dropped": 2}
    merged = merge(
        [(snap(1, sinks={"langfuse": stats}), True), (snap(2, sinks={"langfuse": stats}), False)], RULES
    )
    assert merged.sinks == {"langfuse": {"queued": 4, "delivered": 20, "retried": 2, "dropped": 4}}
    assert (merged.live_workers, merged.exited_workers) == (1, 1)


# ---------------------------------------------------------------------------------- the shared directory


def test_a_snapshot_is_replaced_whole_and_no_temp_file_stays(tmp_path: Path) -> None:
    directory = SnapshotDirectory(str(tmp_path), pid=101)
    directory.write(b'{"pid": 101}')
    directory.write(b'{"pid": 101, "metrics": {}}')
    assert os.listdir(tmp_path) == ["worker-101.json"]
    assert orjson.loads((tmp_path / "worker-101.json").read_bytes()) == {"pid": 101, "metrics": {}}


LIVENESS_CASES = [
    pytest.param("worker-202.json", True, 0.0, True, id="a running worker with a fresh file is live"),
    pytest.param("worker-202.json", False, 0.0, False, id="a worker whose pid is gone has exited"),
    pytest.param("worker-202.json", True, 120.0, False, id="a file not written for long is an exited worker"),
    pytest.param("retired-202-17.json", True, 0.0, False, id="a retired file is never live"),
]


@pytest.mark.parametrize(("name", "pid_runs", "age", "live"), LIVENESS_CASES)
def test_other_workers_are_live_only_while_their_pid_runs_and_their_file_is_fresh(
    tmp_path: Path, name: str, pid_runs: bool, age: float, live: bool
) -> None:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(snap(202, {"requests": [[["a", "200"], 1.0]]})))
    if age:
        past = time.time() - age
        os.utime(path, (past, past))
    directory = SnapshotDirectory(str(tmp_path), pid=101, stale_after=60.0, alive=lambda pid: pid_runs)
    assert [(s["pid"], is_live) for s, is_live in directory.others()] == [(202, live)]


def test_a_worker_reads_the_others_files_but_not_its_own_nor_temp_files(tmp_path: Path) -> None:
    files = {"worker-101.json": 101, "worker-202.json": 202, ".worker-303.json.tmp": 303, "notes.txt": 404}
    for name, pid in files.items():
        (tmp_path / name).write_bytes(orjson.dumps(snap(pid)))
    directory = SnapshotDirectory(str(tmp_path), pid=101, alive=lambda pid: True)
    assert [s["pid"] for s, _ in directory.others()] == [202]


def test_a_new_worker_with_a_reused_pid_keeps_the_counts_of_the_old_one(tmp_path: Path) -> None:
    old = snap(101, {"requests": [[["a", "200"], 5.0]]})
    (tmp_path / "worker-101.json").write_bytes(orjson.dumps(old))
    directory = SnapshotDirectory(str(tmp_path), pid=101, alive=lambda pid: True)
    directory.claim()
    directory.write(orjson.dumps(snap(101)))
    assert [(s, live) for s, live in directory.others()] == [(old, False)]


def test_an_unreadable_snapshot_is_left_out_not_a_failed_scrape(tmp_path: Path) -> None:
    (tmp_path / "worker-202.json").write_bytes(b"{not json")
    assert list(SnapshotDirectory(str(tmp_path), pid=101).others()) == []


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_pid_liveness_sees_this_process_and_not_a_reaped_child(dead_pid: int) -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid)
    assert not pid_alive(0), "pid 0 would signal our own process group"


def test_the_parent_creates_a_fresh_directory_and_removes_it_after_the_workers(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    with shared_metrics_dir(environ) as path:
        assert environ[METRICS_DIR_ENV] == path and os.path.isdir(path) and not os.listdir(path)
    assert METRICS_DIR_ENV not in environ and not os.path.exists(path)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({METRICS_DIR_ENV: "/x", INTERVAL_ENV: "soon"}, "number of seconds", id="not a number"),
        pytest.param({METRICS_DIR_ENV: "/x", INTERVAL_ENV: "0"}, "more than 0", id="zero"),
    ],
)
def test_a_bad_snapshot_interval_stops_the_start_with_a_message(environ: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        publisher_from_env(lambda: {}, environ)


# ------------------------------------------------------------------ GatewayMetrics with sibling workers


def samples(metrics: GatewayMetrics) -> list[tuple[str, dict[str, str], float]]:
    body, _ = metrics.render()
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    ]


def value(all_samples, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in all_samples if n == name and labels.items() <= ls.items())


@pytest.fixture
def sibling() -> Iterator[subprocess.Popen]:
    """A real process standing in for a sibling worker, so its pid is live until the test ends it."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def worker(sink_stats: dict | None = None) -> GatewayMetrics:
    metrics = GatewayMetrics()
    if sink_stats is not None:
        metrics.add_sink_stats(lambda: sink_stats)
    return metrics


def publish_as(directory: Path, pid: int, metrics: GatewayMetrics) -> None:
    SnapshotDirectory(str(directory), pid=pid).write(orjson.dumps(metrics.snapshot()))


async def test_a_scrape_of_one_worker_counts_every_workers_requests(tmp_path: Path, sibling) -> None:
    this, other = worker({"langfuse": {"queued": 1, "delivered": 3}}), worker({"langfuse": {"queued": 2}})
    for _ in range(3):
        this.request_finished(record(), 0.001)
    for _ in range(4):
        other.request_finished(record(), 0.001)
    other.request_finished(record(status=429, error_type="ThrottlingException"), 0.001)
    other.request_started("/v1/chat/completions")
    this.set_deployment_state("claude-eu-1", "claude-3-5-sonnet", HEALTHY)
    other.set_deployment_state("claude-eu-1", "claude-3-5-sonnet", COOLDOWN)
    publish_as(tmp_path, sibling.pid, other)
    this.start({METRICS_DIR_ENV: str(tmp_path)})
    try:
        s = samples(this)
        assert value(s, "bedrock_proxy_requests_total", status="200") == 7
        assert value(s, "litellm_proxy_total_requests_metric_total") == 8
        assert value(s, "bedrock_proxy_request_duration_seconds_count") == 8
        assert value(s, "bedrock_proxy_request_duration_seconds_bucket", le="+Inf") == 8
        assert value(s, "bedrock_proxy_request_failures_total", error_type="ThrottlingException") == 1
        assert value(s, "bedrock_proxy_in_flight_requests", route="/v1/chat/completions") == 1
        assert value(s, "bedrock_proxy_deployment_state", deployment="claude-eu-1") == COOLDOWN
        assert value(s, "bedrock_proxy_sink_queue_depth", sink="langfuse") == 3
        assert value(s, "bedrock_proxy_sink_records_total", sink="langfuse", outcome="delivered") == 3
        assert value(s, "bedrock_proxy_metrics_workers", state="live") == 2

        this.request_finished(record(), 0.001)  # its own live values, not its last file
        assert value(samples(this), "bedrock_proxy_requests_total", status="200") == 8

        sibling.kill()
        sibling.wait()
        s = samples(this)
        assert value(s, "bedrock_proxy_requests_total", status="200") == 8, "counters never go backwards"
        assert value(s, "bedrock_proxy_in_flight_requests", route="/v1/chat/completions") == 0
        assert value(s, "bedrock_proxy_deployment_state", deployment="claude-eu-1") == HEALTHY
        assert value(s, "bedrock_proxy_sink_queue_depth", sink="langfuse") == 1
        assert value(s, "bedrock_proxy_metrics_workers", state="exited") == 1
    finally:
        await this.aclose()


async def test_a_worker_publishes_its_values_at_start_periodically_and_at_shutdown(tmp_path: Path) -> None:
    metrics = worker()
    metrics.start({METRICS_DIR_ENV: str(tmp_path), INTERVAL_ENV: "0.05"})
    own = tmp_path / f"worker-{os.getpid()}.json"

    def published() -> float:
        series = orjson.loads(own.read_bytes())["metrics"]["bedrock_proxy_requests"]
        return sum(count for _, count in series)

    assert published() == 0
    metrics.request_finished(record(), 0.001)
    for _ in range(500):  # a few snapshot intervals at most; generous for a shared machine
        if published() == 1:
            break
        await asyncio.sleep(0.02)
    assert published() == 1
    metrics.request_finished(record(), 0.001)
    await metrics.aclose()
    assert published() == 2


async def test_with_one_worker_the_scrape_is_this_processs_own_values() -> None:
    metrics = worker()
    metrics.request_finished(record(), 0.001)
    before = metrics.render()
    metrics.start({})
    try:
        assert metrics.render() == before
        assert "bedrock_proxy_metrics_workers" not in before[0].decode()
    finally:
        await metrics.aclose()
