"""`bedrock-proxy serve --num-workers 2` as users run it: whichever worker answers GET /metrics, it reports
every request the gateway served, also after a worker was killed and replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from tests.e2e.support import chat, config_text, eventually, metric, metric_samples
from tests.support.processes import clean_env, emulator_process, free_port

WORKERS = 2
SCRAPES = 12  # each on a new connection, so both workers answer some
SNAPSHOTS = 30.0  # seconds to wait for what workers publish: snapshots are written about every second


class Served:
    """The running gateway, and the shared metrics directory its parent process created under our TMPDIR."""

    def __init__(self, url: str, process: subprocess.Popen, tmpdir: Path, log_path: Path) -> None:
        self.url, self.process, self.tmpdir, self.log_path = url, process, tmpdir, log_path

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{self.log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{self.url}/health/readiness", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def snapshots(self) -> dict[int, tuple[str, dict]]:
        """pid -> (file kind, snapshot) of every worker file (read as a test, not through the gateway)."""
        found: dict[int, tuple[str, dict]] = {}
        for path in self.tmpdir.glob("bedrock-proxy-metrics-*/*.json"):
            kind, _, rest = path.stem.partition("-")
            try:
                found[int(rest.split("-")[0])] = (kind, orjson.loads(path.read_bytes()))
            except (FileNotFoundError, ValueError):
                continue  # replaced while we listed: read again next poll
        return found

    def requests(self) -> dict[int, tuple[bool, float]]:
        """pid -> (still running, requests) according to each worker's last snapshot, exited ones too."""
        return {
            pid: (
                kind == "worker" and _running(pid),
                sum(count for _, count in snapshot["metrics"]["bedrock_proxy_requests"]),
            )
            for pid, (kind, snapshot) in self.snapshots().items()
        }

    def live_worker_requests(self) -> dict[int, float]:
        return {pid: count for pid, (live, count) in self.requests().items() if live}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def serve(tmp_path: Path, emulator_url: str, workers: int) -> Iterator[Served]:
    """`bedrock-proxy serve --num-workers N`, its TMPDIR (where the metrics directory goes) in tmp_path."""
    port = free_port()
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text())
    log_path = tmp_path / "gateway.log"
    env = clean_env({"AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url, "TMPDIR": str(tmp_path)})
    command = [sys.executable, "-m", "bedrock_proxy", "serve", "--config", str(config_path)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num-workers", str(workers)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    running = Served(f"http://127.0.0.1:{port}", process, tmp_path, log_path)
    try:
        eventually(lambda: running.ready(), SNAPSHOTS, "the gateway should start")
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator_process() as url:
        yield url


@pytest.fixture(scope="module")
def served(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("workers")
    with serve(tmp_path, emulator_url, WORKERS) as running:
        eventually(
            lambda: len(running.live_worker_requests()) == WORKERS,
            SNAPSHOTS,
            "both workers should publish a snapshot at start",
        )
        yield running
    assert running.process.returncode == 0, running.log_path.read_text(errors="replace")
    assert not list(tmp_path.glob("bedrock-proxy-metrics-*")), "the parent removes the metrics directory"


def send(url: str, count: int) -> None:
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: chat(url).status, range(count)))
    assert statuses == [200] * count


def published(served: Served, requests: int) -> dict[int, float] | None:
    """Requests per live worker once all snapshots (exited workers' too) add up to `requests`."""
    counts = served.requests()
    if sum(count for _, count in counts.values()) != requests:
        return None
    return {pid: count for pid, (live, count) in counts.items() if live}


def every_scrape_reports(served: Served, requests: int) -> list[list]:
    """Once the workers' snapshots caught up with `requests` (they lag by up to one snapshot interval),
    SCRAPES scrapes in a row, whichever worker answers each, must all report exactly `requests`."""
    eventually(
        lambda: published(served, requests), SNAPSHOTS, f"the workers should publish {requests} requests"
    )
    scrapes = [metric_samples(served.url) for _ in range(SCRAPES)]
    assert [metric(s, "bedrock_proxy_requests_total", status="200") for s in scrapes] == [requests] * SCRAPES
    assert [metric(s, "litellm_proxy_total_requests_metric_total") for s in scrapes] == [requests] * SCRAPES
    assert [metric(s, "bedrock_proxy_request_duration_seconds_count") for s in scrapes] == [
        requests
    ] * SCRAPES
    assert [metric(s, "bedrock_proxy_in_flight_requests") for s in scrapes] == [0] * SCRAPES
    return scrapes


def test_every_scrape_reports_the_requests_of_all_workers(served: Served) -> None:
    sent = 0
    for _ in range(10):  # until both workers served some: otherwise one worker's own count would pass too
        send(served.url, 20)
        sent += 20
        per_worker = eventually(lambda total=sent: published(served, total), SNAPSHOTS)
        if all(per_worker.values()):
            break
    assert len(per_worker) == WORKERS and all(0 < n < sent for n in per_worker.values()), per_worker

    scrapes = every_scrape_reports(served, sent)
    assert [metric(s, "bedrock_proxy_metrics_workers", state="live") for s in scrapes] == [WORKERS] * SCRAPES


def test_counts_of_a_killed_worker_stay_and_its_replacement_adds_to_them(served: Served) -> None:
    before = metric(metric_samples(served.url), "bedrock_proxy_requests_total")
    send(served.url, 10)
    every_scrape_reports(served, before + 10)  # so the snapshots hold every request before the kill
    victim = max(served.live_worker_requests().items(), key=lambda item: item[1])[0]
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: victim not in served.live_worker_requests() and len(served.live_worker_requests()) == WORKERS,
        SNAPSHOTS,
        "uvicorn should replace the killed worker",
    )

    send(served.url, 10)
    scrapes = every_scrape_reports(served, before + 20)
    assert [metric(s, "bedrock_proxy_metrics_workers", state="exited") for s in scrapes] == [1] * SCRAPES
    assert [metric(s, "bedrock_proxy_metrics_workers", state="live") for s in scrapes] == [WORKERS] * SCRAPES


def test_one_worker_writes_no_snapshot_and_serves_its_own_metrics(emulator_url: str, tmp_path: Path) -> None:
    with serve(tmp_path, emulator_url, 1) as running:
        send(running.url, 3)
        scrape = metric_samples(running.url)
        assert metric(scrape, "bedrock_proxy_requests_total") == 3
        assert not [name for name, _, _ in scrape if name.startswith("bedrock_proxy_metrics_workers")]
        assert not list(tmp_path.glob("bedrock-proxy-metrics-*"))
