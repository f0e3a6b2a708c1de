"""The orchestrator: start the emulators, measure them direct, then each gateway under test against them,
and write one JSON + one markdown file per run."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import litellm_peer, observability, profile, scenarios, shared_limits
from bench.configs import LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, Upstreams, langfuse_env, write_config
from bench.machine import facts
from bench.plan import Plan
from bench.processes import REPO_ROOT, Server, fake_langfuse, gateway, pin_self
from bench.scenarios import Target
from bench.throughput import have_wrk

SECTIONS = (
    "added_latency",
    "throughput",
    "open_loop",
    "streaming",
    "messages",
    "embeddings",
    "memory",
)


def _section(results: dict, name: str, measure: Callable[[], object]) -> None:
    """One section failing is reported in its place; the rest of the run goes on."""
    started = time.monotonic()
    print(f"  {name} ...", flush=True)
    try:
        results[name] = measure()
    except Exception as exc:  # a benchmark run reports what broke rather than losing everything
        results[name] = {
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "trace": traceback.format_exc()[-2000:],
        }
    print(f"  {name} done in {time.monotonic() - started:.1f} s", flush=True)


def measure_target(
    plan: Plan,
    up: Upstreams,
    target: Target,
    direct_points: list[dict],
    *,
    peer: bool = False,
    fresh: Callable[[], contextlib.AbstractContextManager[Server]],
    before_memory: Callable[[dict], None] | None = None,
) -> dict:
    """Every section against one gateway; memory on a fresh process of the same kind (`fresh()`)."""
    out: dict = {"name": target.name}
    scale = 0.5 if peer else 1.0
    _section(out, "added_latency", lambda: scenarios.added_latency(plan, up, target, scale=scale))
    _section(out, "throughput", lambda: scenarios.gateway_throughput(plan, target))
    capacity = out["throughput"].get("requests_per_s") if peer else None
    _section(out, "open_loop", lambda: scenarios.open_loop_through(plan, target, direct_points, capacity))
    _section(out, "streaming", lambda: scenarios.streaming(plan, up, target, scale=scale))
    if not peer:  # the Anthropic Messages API: ours only
        _section(out, "messages", lambda: scenarios.messages(plan, up, target))
    _section(out, "embeddings", lambda: scenarios.embeddings(plan, up, target))
    if before_memory is not None:
        before_memory(out)
    max_seconds = plan.peer_memory_seconds if peer else None
    _section(out, "memory", lambda: scenarios.memory(plan, fresh(), max_seconds=max_seconds))
    return out


def run(plan: Plan, argv: list[str], out_dir: Path, *, with_litellm: bool, with_profile: bool) -> dict:
    pin_self()
    started = time.monotonic()
    results: dict = {
        "machine": facts(REPO_ROOT, argv),
        "mode": plan.mode,
        "plan": dataclasses.asdict(plan),
        "load_tool": "wrk" if have_wrk() else "aiohttp",
        "pinning": "gateway on core 0; emulators, fake Langfuse and load generator on core 1 (taskset)",
    }
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    logs = work / "logs"
    results["logs"] = str(logs)
    with contextlib.ExitStack() as stack:
        print("starting emulators ...", flush=True)
        up, fast = stack.enter_context(scenarios.upstream_emulators(logs))
        config = write_config(work / "config.yaml", up)
        observed_config = write_config(work / "config-observed.yaml", up, observability=True)

        print("upstream, direct:", flush=True)
        direct: dict = {}
        _section(direct, "capacity", lambda: scenarios.emulator_capacity(plan, up, fast))
        _section(
            direct, "single_client_floor_p99_ms", lambda: round(scenarios.single_client_floor(up) * 1000, 3)
        )
        floor_ms = direct["single_client_floor_p99_ms"]
        floor_s = floor_ms / 1000 if isinstance(floor_ms, float) else 2 * scenarios.SLOW_LATENCY
        _section(direct, "open_loop", lambda: scenarios.open_loop_direct(plan, up, floor_s))
        results["upstream"] = direct
        direct_points = direct["open_loop"] if isinstance(direct["open_loop"], list) else []

        print("bedrock-proxy:", flush=True)
        with gateway("bedrock-proxy", config, logs) as ours:

            def extras(out: dict) -> None:
                if with_profile:
                    _section(out, "profile", lambda: profile.record(plan, ours, out_dir / "profile"))
                _section(
                    out, "observability", lambda: _observability(plan, up, ours, fast, observed_config, logs)
                )

            results["bedrock_proxy"] = measure_target(
                plan,
                up,
                Target("bedrock-proxy", ours),
                direct_points,
                fresh=lambda: gateway("bedrock-proxy-memory", config, logs),
                before_memory=extras,
            )

        print("shared limits:", flush=True)
        _section(results, "shared_limits", lambda: shared_limits.cost(plan, up, work, logs))

        if with_litellm:
            print("litellm:", flush=True)
            results["litellm"] = _litellm(plan, up, config, direct_points, logs, work)
        else:
            results["litellm"] = {"not_measured": "run with --with-litellm to measure the LiteLLM proxy"}
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def _observability(plan: Plan, up: Upstreams, plain, fast, observed_config: Path, logs: Path) -> dict:
    with (
        fake_langfuse(logs, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY) as langfuse,
        gateway("bedrock-proxy-observed", observed_config, logs, env=langfuse_env(langfuse.url)) as observed,
    ):
        return observability.cost(plan, plain, observed, langfuse, fast)


def _litellm(
    plan: Plan, up: Upstreams, config: Path, direct_points: list[dict], logs: Path, work: Path
) -> dict:
    try:
        version = litellm_peer.ensure_installed(work / "litellm-install.log")
        with litellm_peer.litellm_proxy(config, logs) as server:
            out = measure_target(
                plan,
                up,
                Target(f"litellm {version}", server),
                direct_points,
                peer=True,
                fresh=lambda: litellm_peer.litellm_proxy(config, logs, name="litellm-memory"),
            )
            out["version"] = version
            out["observability"] = {"not_measured": "needs the langfuse SDK inside LiteLLM's virtualenv"}
            return out
    except litellm_peer.PeerUnavailable as exc:
        return {"not_measured": str(exc)}
