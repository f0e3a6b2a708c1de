"""Each measured section as one function: it takes the upstream URLs and a gateway under test and returns
a JSON-ready dict. The orchestrator (bench/run.py) decides which processes exist; these only send load."""

from __future__ import annotations

import contextlib
import statistics
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import client, payloads, requests, throughput
from bench.configs import Upstreams
from bench.plan import Plan
from bench.processes import Server, emulator
from bench.stats import added_over_rounds, percentile, summary_ms

STREAM_TTFT = 0.02  # the stream emulator's --ttft
STREAM_GAP = 0.01  # and --delta-gap
SLOW_LATENCY = 0.05
EMBED_LATENCY = 0.02
EMBED_INPUTS = 100


@dataclass
class Target:
    """A gateway under test (ours or a peer) and the model names it serves."""

    name: str
    server: Server

    @property
    def url(self) -> str:
        return self.server.url


def added_latency(plan: Plan, up: Upstreams, target: Target, *, scale: float = 1.0) -> dict:
    """Concurrency 1, non-streaming, small and large prompts, interleaved with direct calls."""
    per_round = max(5, int(plan.per_round * scale))
    out = {}
    for size, prompt in (("small", payloads.SMALL_PROMPT), ("large", payloads.large_prompt())):
        direct = requests.direct_chat(up.fast, prompt)
        through = requests.gateway_chat(target.url, "bench-fast", prompt)
        rounds = client.run(
            lambda d=direct, t=through: client.interleaved_rounds(d, t, plan.rounds, per_round)
        )
        result = added_over_rounds(rounds)  # type: ignore[arg-type]
        result["request_bytes"] = len(through.body)
        out[size] = result
    return out


def capacity(plan: Plan, call: requests.Call, server: Server) -> dict:
    """Closed-loop rate, plus the server's own CPU time per request over the run (from /proc), which
    gives the rate it would reach with its core to itself even when other load shares that core."""
    cpu_before = server.cpu_seconds()
    result = throughput.measure(call, plan.connections, plan.throughput_seconds).as_dict()
    cpu = server.cpu_seconds() - cpu_before
    if result["requests"] and cpu > 0:
        result["cpu_ms_per_request"] = round(cpu / result["requests"] * 1000, 3)
        result["requests_per_cpu_second"] = round(result["requests"] / cpu, 1)
        result["cpu_share_of_one_core"] = round(cpu / plan.throughput_seconds, 2)
    return result


def emulator_capacity(plan: Plan, up: Upstreams, fast: Server) -> dict:
    """The zero-delay upstream measured direct, with the same tool: it must outrun the gateway."""
    return capacity(plan, requests.direct_chat(up.fast, payloads.SMALL_PROMPT), fast)


def gateway_throughput(plan: Plan, target: Target) -> dict:
    return capacity(
        plan, requests.gateway_chat(target.url, "bench-fast", payloads.SMALL_PROMPT), target.server
    )


def single_client_floor(up: Upstreams, times: int = 30) -> float:
    """p99 of direct calls to the 50 ms upstream at concurrency 1: the open-loop validity reference."""
    latencies = client.run(lambda: client.repeat(requests.direct_chat(up.slow, payloads.SMALL_PROMPT), times))
    return percentile(latencies, 99)  # type: ignore[arg-type]


def _open_point(call: requests.Call, rate: int, seconds: float) -> dict:
    result = client.run(lambda: client.open_loop(call, rate, seconds))
    assert isinstance(result, client.LoadResult)
    point = summary_ms(result.latencies)
    point.update(
        {
            "rate": rate,
            "achieved_per_s": round(result.rate, 1),
            "errors": result.errors,
        }
    )
    if result.first_error:
        point["first_error"] = result.first_error[:300]
    return point


def open_loop_direct(plan: Plan, up: Upstreams, floor_s: float) -> list[dict]:
    points = []
    for rate in plan.open_loop_rates:
        point = _open_point(
            requests.direct_chat(up.slow, payloads.SMALL_PROMPT), rate, plan.open_loop_seconds
        )
        point["valid"] = point["p99_ms"] <= 2 * floor_s * 1000 and point["errors"] == 0
        points.append(point)
    return points


def open_loop_through(
    plan: Plan, target: Target, direct_points: list[dict], max_rate: float | None = None
) -> list[dict]:
    """The same schedule through the gateway; a point whose direct baseline was invalid is kept but
    flagged, and rates far above the gateway's measured capacity are skipped (they only measure a queue)."""
    points = []
    call = requests.gateway_chat(target.url, "bench-slow", payloads.SMALL_PROMPT)
    for direct in direct_points:
        rate = direct["rate"]
        if max_rate is not None and rate > 1.5 * max_rate:
            points.append({"rate": rate, "skipped": f"above 1.5x its measured capacity ({max_rate:.0f}/s)"})
            continue
        point = _open_point(call, rate, plan.open_loop_seconds)
        point["valid"] = bool(direct["valid"])
        point["added_p50_ms"] = round(point["p50_ms"] - direct["p50_ms"], 3)
        point["added_p99_ms"] = round(point["p99_ms"] - direct["p99_ms"], 3)
        points.append(point)
    return points


def streaming(
    plan: Plan, up: Upstreams, target: Target, *, scale: float = 1.0, through: requests.Call | None = None
) -> dict:
    """Added TTFT and added inter-chunk gap at concurrency 1 against a paced upstream (ttft 20 ms, one delta
    every 10 ms); batching shows as fewer chunks, or as gaps near zero where the upstream had 10 ms.
    `through`: the gateway call to time (default: a chat completions stream)."""
    direct = requests.direct_stream(up.stream, payloads.STREAM_PROMPT)
    if through is None:
        through = requests.gateway_stream(target.url, "bench-stream", payloads.STREAM_PROMPT)
    per_round = max(2, int(plan.streams_per_round * scale))
    rounds = client.run(lambda: client.interleaved_streams(direct, through, plan.stream_rounds, per_round))
    ttft_p50, ttft_p99, gap_p50, gap_p99 = [], [], [], []
    direct_chunks, through_chunks, tight, through_gaps_all = [], [], 0, []
    for d_streams, t_streams in rounds:  # type: ignore[union-attr]
        d_ttft = [s.ttft for s in d_streams]
        t_ttft = [s.ttft for s in t_streams]
        d_gaps = client.flatten([s.gaps for s in d_streams])
        t_gaps = client.flatten([s.gaps for s in t_streams])
        ttft_p50.append(percentile(t_ttft, 50) - percentile(d_ttft, 50))
        ttft_p99.append(percentile(t_ttft, 99) - percentile(d_ttft, 99))
        gap_p50.append(percentile(t_gaps, 50) - percentile(d_gaps, 50))
        gap_p99.append(percentile(t_gaps, 99) - percentile(d_gaps, 99))
        direct_chunks += [len(s.arrivals) for s in d_streams]
        through_chunks += [len(s.arrivals) for s in t_streams]
        tight += sum(1 for g in t_gaps if g < STREAM_GAP / 4)
        through_gaps_all += t_gaps
    all_direct = [s for d, _ in rounds for s in d]  # type: ignore[union-attr]
    all_through = [s for _, t in rounds for s in t]  # type: ignore[union-attr]
    upstream_deltas = statistics.median(direct_chunks) if direct_chunks else 0
    batched_share = tight / len(through_gaps_all) if through_gaps_all else float("nan")
    return {
        "upstream": {"ttft_ms": STREAM_TTFT * 1000, "delta_gap_ms": STREAM_GAP * 1000},
        "streams": len(all_through),
        "added_ttft_p50_ms": round(statistics.median(ttft_p50) * 1000, 3),
        "added_ttft_p99_ms": round(statistics.median(ttft_p99) * 1000, 3),
        "added_gap_p50_ms": round(statistics.median(gap_p50) * 1000, 3),
        "added_gap_p99_ms": round(statistics.median(gap_p99) * 1000, 3),
        "direct_ttft": summary_ms([s.ttft for s in all_direct]),
        "through_ttft": summary_ms([s.ttft for s in all_through]),
        "through_gap": summary_ms(through_gaps_all),
        "upstream_deltas_per_stream": upstream_deltas,
        "chunks_per_stream_min": min(through_chunks) if through_chunks else 0,
        "chunks_per_stream_max": max(through_chunks) if through_chunks else 0,
        "gaps_under_quarter_of_upstream_gap_share": round(batched_share, 4),
        "not_batched": bool(
            through_chunks and min(through_chunks) >= upstream_deltas and batched_share <= 0.05
        ),
    }


def messages(plan: Plan, up: Upstreams, target: Target) -> dict:
    """The Anthropic Messages API (/v1/messages) with the chat sections' method and upstreams: added
    latency (small prompt, not streamed) and the streaming section (added TTFT and gaps)."""
    per_round = max(5, plan.per_round)
    direct = requests.direct_chat(up.fast, payloads.SMALL_PROMPT)
    through = requests.gateway_messages(target.url, "bench-fast", payloads.SMALL_PROMPT)
    rounds = client.run(lambda: client.interleaved_rounds(direct, through, plan.rounds, per_round))
    stream = requests.gateway_messages_stream(target.url, "bench-stream", payloads.STREAM_PROMPT)
    return {
        "added_latency": added_over_rounds(rounds),  # type: ignore[arg-type]
        "streaming": streaming(plan, up, target, through=stream),
    }


def embeddings(plan: Plan, up: Upstreams, target: Target) -> dict:
    """A 100-string list on a 20 ms upstream, against one upstream round trip (one string, direct)."""
    inputs = payloads.embedding_inputs(EMBED_INPUTS)
    round_trip = client.run(lambda: client.repeat(requests.direct_embedding(up.embed, inputs[0]), 10))
    through = client.run(
        lambda: client.repeat(
            requests.gateway_embeddings(target.url, "bench-embed", inputs), plan.embedding_calls, warmup=1
        )
    )
    one = percentile(round_trip, 50)  # type: ignore[arg-type]
    p50 = percentile(through, 50)  # type: ignore[arg-type]
    return {
        "inputs": EMBED_INPUTS,
        "upstream_latency_ms": EMBED_LATENCY * 1000,
        "one_round_trip_p50_ms": round(one * 1000, 3),
        "list": summary_ms(through),  # type: ignore[arg-type]
        "round_trips": round(p50 / one, 2) if one else float("nan"),
    }


def run_requests(target: Target, count: int, connections: int, *, max_seconds: float | None = None) -> int:
    """Send about `count` small chat requests (several wrk runs sized from the measured rate)."""
    call = requests.gateway_chat(target.url, "bench-fast", payloads.SMALL_PROMPT)
    sent, rate = 0, None
    started = time.monotonic()
    while sent < count:
        left = count - sent
        budget = None if max_seconds is None else max_seconds - (time.monotonic() - started)
        if budget is not None and budget < 1:
            break
        seconds = min(2.0, max(1.0, left / 1000)) if rate is None else min(30.0, max(1.0, left / rate))
        if budget is not None:
            seconds = min(seconds, budget)
        result = throughput.measure(call, connections, seconds)
        sent += result.requests
        rate = max(result.rate, 1.0)
    return sent


def memory(
    plan: Plan, fresh: contextlib.AbstractContextManager[Server], *, max_seconds: float | None = None
) -> dict:
    """On a fresh process: RSS idle, warm (after the first tenth of the requests), after all of them."""
    with fresh as server:
        time.sleep(0.5)
        idle = server.rss_mb()
        target = Target("memory", server)
        budget = None if max_seconds is None else max_seconds / 10
        sent = run_requests(target, max(1, plan.memory_requests // 10), plan.connections, max_seconds=budget)
        warm = server.rss_mb()
        rest = None if max_seconds is None else max_seconds - budget
        sent += run_requests(target, plan.memory_requests - sent, plan.connections, max_seconds=rest)
        time.sleep(1.0)
        after = server.rss_mb()
    return {
        "idle_mb": idle,
        "warm_mb": warm,
        "requests": sent,
        "after_mb": after,
        "growth_from_idle_pct": round((after - idle) / idle * 100, 1) if idle else float("nan"),
        "growth_from_warm_pct": round((after - warm) / warm * 100, 1) if warm else float("nan"),
    }


def get_json(url: str, method: str = "GET") -> dict:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


@contextlib.contextmanager
def upstream_emulators(logs: Path) -> Iterator[tuple[Upstreams, Server]]:
    """The four emulators every gateway of a run talks to (docs/performance.md, Method), and the fast one."""
    with contextlib.ExitStack() as stack:
        fast = stack.enter_context(emulator("emulator-fast", logs))
        slow = stack.enter_context(emulator("emulator-slow", logs, "--latency", str(SLOW_LATENCY)))
        stream = stack.enter_context(
            emulator("emulator-stream", logs, "--ttft", str(STREAM_TTFT), "--delta-gap", str(STREAM_GAP))
        )
        embed = stack.enter_context(emulator("emulator-embed", logs, "--latency", str(EMBED_LATENCY)))
        yield Upstreams(fast.url, slow.url, stream.url, embed.url), fast
