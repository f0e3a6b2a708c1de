"""The cost of shared limits: one worker with its limits in Redis (a real redis-server beside it) against the
same worker keeping them in process, interleaved request by request at concurrency 1 (added latency) and
back to back at full load (throughput); then `--num-workers 2`, sharing its limits through the host's SQLite
file, against one worker.

Every request passes a gateway rpm and a deployment rpm (both far above the load), so each admission is
checked and counted, as in production with limits on (with window leases, as wired by default: a busy
worker asks Redis about once per lease, not once per request; BEDROCK_PROXY_WINDOW_LEASE_SECONDS=0 in the
environment measures one round trip per request).

The section alone: `python -m bench.shared_limits [--quick|--smoke] [--repeats N]` (it starts the same
emulators as `python -m bench`, prints the section's JSON).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from bench import alone, client, payloads, requests
from bench.configs import Upstreams, config_dict
from bench.plan import Plan
from bench.processes import LOAD_CORE, Server, free_port, gateway, pinned
from bench.scenarios import capacity
from bench.stats import added_over_rounds

HIGH_LIMIT = 1_000_000_000  # checked and counted on every request, never reached


def limits_config(path: Path, upstreams: Upstreams, *, redis_url: str | None = None) -> Path:
    config = config_dict(upstreams)
    config["litellm_settings"]["rpm"] = HIGH_LIMIT
    for model in config["model_list"]:
        model["litellm_params"]["rpm"] = HIGH_LIMIT
    if redis_url:
        config["router_settings"] = {"redis_url": redis_url}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def redis_server(logs: Path) -> Iterator[str]:
    """redis-server on the load core (where the emulators run), no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            pinned(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                LOAD_CORE,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()


def redis_script_calls(url: str) -> int:
    """Scripts Redis ran so far (`INFO commandstats`): the gateway's round trips, each one script."""
    host, port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
        reply = sock.recv(65536)
        header, _, body = reply.partition(b"\r\n")  # a bulk string: $<length>, then the text
        while len(body) < int(header[1:]):
            body += sock.recv(65536)
    return sum(int(n) for n in re.findall(r"cmdstat_eval(?:sha)?:calls=(\d+)", body.decode()))


def _rates(plan: Plan, servers: list[Server], repeats: int) -> list[list[dict]]:
    """Throughput of each server, alternated `repeats` times (machine noise hits both alike)."""
    runs: list[list[dict]] = [[] for _ in servers]
    for _ in range(repeats):
        for index, server in enumerate(servers):
            call = requests.gateway_chat(server.url, "bench-fast", payloads.SMALL_PROMPT)
            runs[index].append(capacity(plan, call, server))
    return runs


def _median_rate(runs: list[dict]) -> float:
    return statistics.median(run["requests_per_s"] for run in runs)


def cost(plan: Plan, up: Upstreams, work: Path, logs: Path) -> dict:
    repeats = max(1, plan.observability_repeats)
    local_config = limits_config(work / "config-limits-local.yaml", up)
    with redis_server(logs) as url:
        shared_config = limits_config(work / "config-limits-redis.yaml", up, redis_url=url)
        with (
            gateway("bedrock-proxy-limits-local", local_config, logs) as local,
            gateway("bedrock-proxy-limits-redis", shared_config, logs) as shared,
        ):
            plain = requests.gateway_chat(local.url, "bench-fast", payloads.SMALL_PROMPT)
            redis = requests.gateway_chat(shared.url, "bench-fast", payloads.SMALL_PROMPT)
            calls_before = redis_script_calls(url)
            rounds = client.run(lambda: client.interleaved_rounds(plain, redis, plan.rounds, plan.per_round))
            added = added_over_rounds(rounds)  # type: ignore[arg-type]
            local_runs, redis_runs = _rates(plan, [local, shared], repeats)
            calls = redis_script_calls(url) - calls_before
    through_redis = plan.rounds * plan.per_round + sum(run.get("requests", 0) for run in redis_runs)
    with gateway("bedrock-proxy-limits-2-workers", local_config, logs, workers=2) as two:
        (two_runs,) = _rates(plan, [two], repeats)
    local_rate, redis_rate = _median_rate(local_runs), _median_rate(redis_runs)
    two_rate = _median_rate(two_runs)
    return {
        "redis_added_p50_ms": added["added_p50_ms"],
        "redis_added_p99_ms": added["added_p99_ms"],
        "latency": added,
        "local_requests_per_s": local_rate,
        "redis_requests_per_s": redis_rate,
        "redis_throughput_cost_pct": round((1 - redis_rate / local_rate) * 100, 1) if local_rate else None,
        "redis_calls_per_request": round(calls / through_redis, 4) if through_redis else None,
        "two_workers_requests_per_s": two_rate,
        "two_workers_speedup": round(two_rate / local_rate, 2) if local_rate else None,
        "runs": {"local": local_runs, "redis": redis_runs, "two_workers": two_runs},
    }


def main(argv: list[str] | None = None) -> int:
    args = alone.parser("python -m bench.shared_limits", __doc__).parse_args(argv)
    return alone.run(lambda plan, up, _, work, logs: cost(plan, up, work, logs), args, "bench-shared-limits-")


if __name__ == "__main__":
    raise SystemExit(main())
