"""The cost of observability: the throughput run on a gateway exporting every record to (a fake) Langfuse
with Prometheus metrics on, alternated with the plain gateway; then every record is accounted for.

The section alone: `python -m bench.observability [--quick|--smoke] [--repeats N] [--profile]` (it starts the
same emulators as `python -m bench`, prints the section's JSON; --profile adds a py-spy profile of the
observed gateway under the throughput load).
"""

from __future__ import annotations

import functools
import statistics
import time
from pathlib import Path

from bench import alone, client, payloads, profile, requests
from bench.configs import LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, Upstreams, langfuse_env, write_config
from bench.plan import Plan
from bench.processes import Server, fake_langfuse, gateway
from bench.scenarios import capacity, get_json


def _rate(plan: Plan, server: Server) -> dict:
    call = requests.gateway_chat(server.url, "bench-fast", payloads.SMALL_PROMPT)
    return capacity(plan, call, server)


def _cpu_cost(plain: list[dict], observed: list[dict]) -> float | None:
    """Extra gateway CPU per request with observability on: robust to other load on the machine."""
    try:
        base = statistics.median(r["cpu_ms_per_request"] for r in plain)
        more = statistics.median(r["cpu_ms_per_request"] for r in observed)
    except (KeyError, statistics.StatisticsError):
        return None
    return round((more / base - 1) * 100, 1) if base else None


def _cpu_cost_least_disturbed(plain: list[dict], observed: list[dict]) -> float | None:
    """The same from each side's least CPU per request: load from other processes only ever adds CPU per
    request (shared caches, preemption), so on a busy machine the least disturbed runs are the fairest."""
    try:
        base = min(r["cpu_ms_per_request"] for r in plain)
        more = min(r["cpu_ms_per_request"] for r in observed)
    except (KeyError, ValueError):
        return None
    return round((more / base - 1) * 100, 1) if base else None


def _distinct_traces(langfuse: Server) -> int:
    spans = get_json(f"{langfuse.url}/_test/spans")["spans"]
    return len({span["trace_id"] for span in spans})


def _dispatch_lines(gateway: Server) -> list[str]:
    import urllib.request

    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return [
        line
        for line in text.splitlines()
        if not line.startswith("#") and ("dropped" in line or "delivered" in line or "queued" in line)
    ][:20]


def cost(plan: Plan, plain: Server, observed: Server, langfuse: Server, upstream: Server) -> dict:
    get_json(f"{upstream.url}/_emulator/reset", method="POST")
    get_json(f"{langfuse.url}/_test/reset", method="POST")
    plain_runs, observed_runs = [], []
    observed_upstream_calls = 0
    for _ in range(plan.observability_repeats):
        plain_runs.append(_rate(plan, plain))
        before = get_json(f"{upstream.url}/_emulator/stats")["requests"]
        observed_runs.append(_rate(plan, observed))
        observed_upstream_calls += get_json(f"{upstream.url}/_emulator/stats")["requests"] - before
    plain_rate = statistics.median(r["requests_per_s"] for r in plain_runs)
    observed_rate = statistics.median(r["requests_per_s"] for r in observed_runs)
    # wrk closes its connections mid-request when its time is up, so the loss check sends an exact count
    # that all complete, then waits for one Langfuse trace per request
    time.sleep(2.0)
    throughput_traces = _distinct_traces(langfuse)
    get_json(f"{langfuse.url}/_test/reset", method="POST")
    expected = max(100, plan.memory_requests // 5)
    call = requests.gateway_chat(observed.url, "bench-fast", payloads.SMALL_PROMPT)
    completed = client.run(lambda: client.exact_count(call, expected, plan.connections))
    deadline = time.monotonic() + 30
    traces = _distinct_traces(langfuse)
    while traces < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        traces = _distinct_traces(langfuse)
    return {
        "plain": plain_runs,
        "observed": observed_runs,
        "plain_requests_per_s": plain_rate,
        "observed_requests_per_s": observed_rate,
        "throughput_cost_pct": round((1 - observed_rate / plain_rate) * 100, 1) if plain_rate else None,
        "cpu_cost_pct": _cpu_cost(plain_runs, observed_runs),
        "cpu_cost_pct_least_disturbed": _cpu_cost_least_disturbed(plain_runs, observed_runs),
        "throughput_runs_upstream_calls": observed_upstream_calls,
        "throughput_runs_traces": throughput_traces,
        "records_expected": expected,
        "requests_completed": completed,
        "langfuse_traces": traces,
        "records_lost": max(0, expected - traces),
        "dispatch_metrics": _dispatch_lines(observed),
    }


def section(
    plan: Plan, up: Upstreams, fast: Server, work: Path, logs: Path, *, with_profile: bool = False
) -> dict:
    """Both gateways started here (plain, and observed with the fake Langfuse), then `cost`."""
    plain_config = write_config(work / "config.yaml", up)
    observed_config = write_config(work / "config-observed.yaml", up, observability=True)
    with (
        gateway("bedrock-proxy", plain_config, logs) as plain,
        fake_langfuse(logs, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY) as langfuse,
        gateway("bedrock-proxy-observed", observed_config, logs, env=langfuse_env(langfuse.url)) as observed,
    ):
        results = cost(plan, plain, observed, langfuse, fast)
        if with_profile:
            results["observed_profile"] = profile.record(plan, observed, work / "profile")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = alone.parser("python -m bench.observability", __doc__)
    parser.add_argument("--profile", action="store_true", help="py-spy profile of the observed gateway")
    args = parser.parse_args(argv)
    return alone.run(functools.partial(section, with_profile=args.profile), args, "bench-observability-")


if __name__ == "__main__":
    raise SystemExit(main())
