"""One run -> `<stamp>-<mode>.json` (everything) and `<stamp>-<mode>.md` (the table people read)."""

from __future__ import annotations

import math
from pathlib import Path

import orjson

TARGETS = {
    "added_p50": 0.5,
    "added_p99": 2.0,
    "ttft": 1.0,
    "throughput": 2000.0,
    "idle_mb": 80.0,
    "growth_pct": 10.0,
    "obs_cost_pct": 8.0,  # DESIGN.md: observability on (Langfuse + ledger) <= 8% throughput cost
    "shared_added_p50": 0.1,
    "shared_cost_pct": 10.0,
}


def _get(data: dict, *path: str | int) -> object:
    for key in path:
        if (isinstance(data, dict) and key in data) or (
            isinstance(data, list) and isinstance(key, int) and key < len(data)
        ):
            data = data[key]
        else:
            return None
    return data


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
        return text + unit
    return f"{value}{unit}"


def _verdict(value: object, limit: float, higher_is_better: bool = False) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        return ""
    ok = value >= limit if higher_is_better else value <= limit
    return "met" if ok else "**missed**"


def _ratio(ours: object, peer: object) -> str:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (ours, peer)):
        return ""
    if not peer:
        return ""
    return f"{ours / peer:.2f}x"  # type: ignore[operator]


def rows(results: dict) -> list[tuple[str, str, object, object, str]]:
    """(what, target, ours, peer, verdict) for the headline table."""
    ours = results.get("bedrock_proxy", {})
    peer = results.get("litellm", {})
    out = []

    def add(
        what: str,
        target: str,
        path: tuple,
        limit: float | None = None,
        higher_is_better: bool = False,
        verdict: str = "",
    ) -> None:
        """A row; with a `limit`, its verdict on our value."""
        value = _get(ours, *path)
        if limit is not None:
            verdict = _verdict(value, limit, higher_is_better)
        out.append((what, target, value, _get(peer, *path), verdict, ""))

    for size in ("small", "large"):
        add(
            f"added latency p50, {size}, c=1 (ms)",
            "<= 0.5",
            ("added_latency", size, "added_p50_ms"),
            TARGETS["added_p50"],
        )
        add(
            f"added latency p99, {size}, c=1 (ms)",
            "<= 2",
            ("added_latency", size, "added_p99_ms"),
            TARGETS["added_p99"],
        )
    add(
        "throughput, 1 worker, 0-delay upstream (req/s)",
        ">= 2,000",
        ("throughput", "requests_per_s"),
        TARGETS["throughput"],
        higher_is_better=True,
    )
    add("throughput: gateway CPU per request (ms)", "<= 0.5", ("throughput", "cpu_ms_per_request"))
    add(
        "throughput: requests per CPU-second (core to itself)",
        ">= 2,000",
        ("throughput", "requests_per_cpu_second"),
    )
    for i, point in enumerate(_get(ours, "open_loop") or []):
        if "rate" in point and "p99_ms" in point:
            flag = "" if point.get("valid") else " (direct baseline saturated: indicative)"
            add(
                f"open loop {point['rate']}/s, 50 ms upstream: added p99 (ms){flag}",
                "",
                ("open_loop", i, "added_p99_ms"),
            )
    add("streaming: added TTFT p50 (ms)", "<= 1", ("streaming", "added_ttft_p50_ms"), TARGETS["ttft"])
    add("streaming: added gap between chunks p50 (ms)", "", ("streaming", "added_gap_p50_ms"))
    not_batched = _get(ours, "streaming", "not_batched")
    add(
        "streaming: each upstream delta forwarded on its own",
        "yes",
        ("streaming", "not_batched"),
        verdict="met" if not_batched else ("**missed**" if not_batched is False else ""),
    )
    add(
        "/v1/messages streaming: added TTFT p50 (ms)",
        "<= 1",
        ("messages", "streaming", "added_ttft_p50_ms"),
        TARGETS["ttft"],
    )
    add("/v1/messages: added latency p50, small (ms)", "", ("messages", "added_latency", "added_p50_ms"))
    add("embeddings: 100 inputs, 20 ms upstream, p50 (ms)", "~1 round trip", ("embeddings", "list", "p50_ms"))
    add("embeddings: upstream round trips' worth", "~1", ("embeddings", "round_trips"), 1.5)
    add("memory: RSS idle (MB)", "<= 80", ("memory", "idle_mb"), TARGETS["idle_mb"])
    add("memory: requests in the memory phase", "100k", ("memory", "requests"))
    add("memory: RSS after (MB)", "", ("memory", "after_mb"))
    add(
        "memory: growth warm (first 10%) -> after (%)",
        "< 10",
        ("memory", "growth_from_warm_pct"),
        TARGETS["growth_pct"],
    )
    add("memory: growth idle -> after (%)", "", ("memory", "growth_from_idle_pct"))
    add(
        "observability on: throughput cost (%)",
        "<= 8",
        ("observability", "throughput_cost_pct"),
        TARGETS["obs_cost_pct"],
    )
    add("observability on: extra gateway CPU per request (%)", "", ("observability", "cpu_cost_pct"))
    add(
        "observability on: extra gateway CPU per request, least disturbed runs (%)",
        "",
        ("observability", "cpu_cost_pct_least_disturbed"),
    )
    add("observability on: records lost", "0", ("observability", "records_lost"), 0)
    shared = results.get("shared_limits") or {}
    added = _get(shared, "redis_added_p50_ms")
    cost = _get(shared, "redis_throughput_cost_pct")
    for what, target, value, verdict in (
        (
            "limits in Redis vs in process: added p50, c=1 (ms)",
            "<= 0.1",
            added,
            _verdict(added, TARGETS["shared_added_p50"]),
        ),
        (
            "limits in Redis vs in process: throughput cost (%)",
            "<= 10",
            cost,
            _verdict(cost, TARGETS["shared_cost_pct"]),
        ),
        (
            "limits in Redis: Redis calls per request",
            "",
            _get(shared, "redis_calls_per_request"),
            "",
        ),
        (
            "2 workers (limits shared in SQLite) vs 1: throughput (x)",
            "",
            _get(shared, "two_workers_speedup"),
            "",
        ),
    ):
        out.append((what, target, value, None, verdict, ""))
    return out  # type: ignore[return-value]


def markdown(results: dict) -> str:
    machine = results.get("machine", {})
    peer = results.get("litellm", {})
    peer_name = f"LiteLLM {peer['version']}" if "version" in peer else "LiteLLM"
    lines = [
        f"# Bedrock Proxy benchmark ({results.get('mode')} run, {machine.get('when')})",
        "",
        f"Command: `{machine.get('command')}`  ",
        f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gib')} GiB, "
        f"Linux {machine.get('kernel')}, Python {machine.get('python')}, commit {machine.get('commit')}, "
        f"load average at start {machine.get('load_average_at_start')}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items()) + "  ",
        f"Load tool: {results.get('load_tool')}; {results.get('pinning')}.  ",
        f"Upstream (emulator, direct): {_fmt(_get(results, 'upstream', 'capacity', 'requests_per_s'))} req/s "
        f"capacity; 50 ms upstream single-client p99 floor "
        f"{_fmt(_get(results, 'upstream', 'single_client_floor_p99_ms'))} ms.",
        "",
        f"| what | target | bedrock-proxy | verdict | {peer_name} | ours / peer |",
        "|---|---|---|---|---|---|",
    ]
    for what, target, ours, theirs, verdict, _unit in rows(results):
        lines.append(
            f"| {what} | {target} | {_fmt(ours)} | {verdict} | {_fmt(theirs)} | {_ratio(ours, theirs)} |"
        )
    if "not_measured" in peer:
        lines += ["", f"{peer_name}: not measured ({peer['not_measured']})."]
    errors = [
        f"- {who}.{name}: {section['error'].splitlines()[0]}"
        for who in ("upstream", "bedrock_proxy", "litellm")
        for name, section in (results.get(who) or {}).items()
        if isinstance(section, dict) and "error" in section
    ]
    if isinstance(results.get("shared_limits"), dict) and "error" in results["shared_limits"]:
        errors.append(f"- shared_limits: {results['shared_limits']['error'].splitlines()[0]}")
    if errors:
        lines += ["", "Sections that failed:", *errors]
    prof = _get(results, "bedrock_proxy", "profile")
    if isinstance(prof, dict) and "self" in prof:
        lines += [
            "",
            f"Profile ({prof.get('tool')}, {prof.get('samples')} samples), self time:",
            "",
            "| where | share |",
            "|---|---|",
        ]
        lines += [f"| `{row['where']}` | {row['share_pct']}% |" for row in prof["self"][:12]]
    lines += ["", f"Total run time {results.get('elapsed_s')} s; logs in {results.get('logs')}.", ""]
    return "\n".join(lines)


def write(results: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (results.get("machine", {}).get("when") or "run").replace(":", "").replace("+0000", "Z")
    base = out_dir / f"{stamp}-{results.get('mode')}"
    json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    md_path.write_text(markdown(results))
    return json_path, md_path
