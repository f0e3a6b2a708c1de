"""The benchmark suite keeps working: `python -m bench --smoke` runs every section against real processes
and writes a JSON file holding each of them (figures are not checked here: timing is never a unit test)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET_SECTIONS = (
    "added_latency",
    "throughput",
    "open_loop",
    "streaming",
    "messages",
    "embeddings",
    "memory",
    "observability",
)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, float]:
    out = tmp_path_factory.mktemp("bench")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [json_path] = out.glob("*-smoke.json")
    return orjson.loads(json_path.read_bytes()), out, elapsed


@pytest.mark.timeout(120)
def test_smoke_run_measures_every_section_without_errors(smoke_run: tuple[dict, Path, float]) -> None:
    results, _, _ = smoke_run
    ours = results["bedrock_proxy"]
    for section in TARGET_SECTIONS:
        assert section in ours, f"missing section {section}"
        assert "error" not in ours[section], f"{section} failed: {ours[section]['error']}"
    for size in ("small", "large"):
        assert ours["added_latency"][size]["rounds"] >= 1
    assert ours["throughput"]["requests"] > 0
    assert ours["streaming"]["streams"] > 0
    assert ours["messages"]["streaming"]["streams"] > 0 and ours["messages"]["added_latency"]["rounds"] >= 1
    assert ours["messages"]["streaming"]["chunks_per_stream_min"] > 0  # text deltas were counted
    assert ours["memory"]["idle_mb"] > 0
    assert "capacity" in results["upstream"] and "error" not in results["upstream"]["capacity"]
    shared = results["shared_limits"]
    assert "error" not in shared, shared.get("error")
    assert shared["redis_requests_per_s"] > 0 and shared["two_workers_requests_per_s"] > 0
    assert shared["latency"]["rounds"] >= 1
    assert 0 < shared["redis_calls_per_request"] < 1, "window leases: most requests make no round trip"


@pytest.mark.timeout(120)
def test_smoke_run_records_machine_facts_and_the_command(smoke_run: tuple[dict, Path, float]) -> None:
    results, out, _ = smoke_run
    machine = results["machine"]
    assert machine["command"].startswith("python -m bench --smoke")
    assert machine["cores"] >= 1 and machine["cpu"]
    assert machine["packages"]["uvicorn"] != "not installed"
    [md_path] = out.glob("*-smoke.md")
    table = md_path.read_text()
    assert "| what | target | bedrock-proxy |" in table
    assert "added latency p50, small" in table


@pytest.mark.timeout(120)
def test_smoke_run_finishes_within_a_minute(smoke_run: tuple[dict, Path, float]) -> None:
    results, _, _ = smoke_run
    assert results["elapsed_s"] < 60, f"smoke mode took {results['elapsed_s']} s"


def run_alone(module: str, *args: str) -> dict:
    """`python -m <module> <args>`: it must succeed and print one JSON document."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return orjson.loads(done.stdout)


@pytest.mark.timeout(120)
def test_the_shared_limits_section_runs_alone() -> None:
    results = run_alone("bench.shared_limits", "--smoke")
    assert results["mode"] == "smoke"
    assert results["redis_requests_per_s"] > 0 and results["local_requests_per_s"] > 0
    assert results["latency"]["rounds"] >= 1 and results["redis_calls_per_request"] > 0


@pytest.mark.timeout(120)
def test_the_observability_section_runs_alone() -> None:
    results = run_alone("bench.observability", "--smoke")
    assert results["mode"] == "smoke"
    assert results["plain_requests_per_s"] > 0 and results["observed_requests_per_s"] > 0
    assert results["cpu_cost_pct"] is not None
    assert results["records_lost"] == 0 and results["langfuse_traces"] >= results["records_expected"]


@pytest.mark.timeout(120)
def test_the_observability_stages_are_measured_in_process() -> None:
    results = run_alone("bench.observability_stages", "--records", "200")
    for stage in ("langfuse_encode", "gzip", "metrics", "ledger_write", "langfuse_lane"):
        assert results[stage] > 0, stage
    assert results["langfuse_lane_delivered"] == 200  # every record of the lane reached the fake Langfuse
    assert 0 < results["export_gzip_bytes_per_record"] < results["export_bytes_per_record"]
