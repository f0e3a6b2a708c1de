"""Sample the gateway with py-spy while it serves the throughput load, and summarise where its CPU goes:
self and inclusive share per function (file:function) and per package."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from bench import payloads, requests, throughput
from bench.plan import Plan
from bench.processes import Server

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def _package(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for marker in ("site-packages", "src", "lib"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1 :]
            if rest and re.match(r"python3\.\d+", rest[0]):
                rest = rest[1:]
            if rest:
                return rest[0].removesuffix(".py")
    return parts[0] if parts else path


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." and "/" in tail else tail
    return path


def summarise(raw: str, top: int = 15) -> dict:
    """py-spy's raw (collapsed) stacks -> shares of samples, per function and per package."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            frames.append((match["file"], match["func"]) if match else ("?", frame.strip()))
        if frames and frames[0][1].startswith(("process ", "thread ")):
            frames = frames[1:]
        if not frames:
            continue
        total += count
        file, func = frames[-1]
        self_counts[f"{_short(file)}:{func}"] += count
        packages[_package(file)] += count
        for key in {f"{_short(f)}:{fn}" for f, fn in frames}:
            inclusive[key] += count

    def share(counter: Counter[str]) -> list[dict]:
        return [{"where": key, "share_pct": round(100 * n / total, 1)} for key, n in counter.most_common(top)]

    project = Counter({k: v for k, v in inclusive.items() if k.startswith("bedrock_proxy/")})
    return {
        "samples": total,
        "self": share(self_counts),
        "inclusive_project": share(project),
        "by_package_self": share(packages),
    }


def record(plan: Plan, gateway: Server, out_dir: Path) -> dict:
    """py-spy record (raw stacks + an SVG flame graph) for the length of one throughput run."""
    if not shutil.which("py-spy"):
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path, svg_path = out_dir / "profile.txt", out_dir / "profile.svg"
    seconds = max(2, round(plan.profile_seconds))
    call = requests.gateway_chat(gateway.url, "bench-fast", payloads.SMALL_PROMPT)
    commands = [
        ["py-spy", "record", "--pid", str(gateway.pid), "--duration", str(seconds), "--rate", "200",
         "--format", "raw", "--output", str(raw_path)],
        ["py-spy", "record", "--pid", str(gateway.pid), "--duration", str(seconds), "--rate", "100",
         "--output", str(svg_path)],
    ]  # fmt: skip
    results: list[subprocess.CompletedProcess] = []
    for command in commands:
        spy = threading.Thread(
            target=lambda c=command: results.append(
                subprocess.run(c, capture_output=True, text=True, timeout=seconds + 60)
            )
        )
        spy.start()
        load = throughput.measure(call, plan.connections, seconds + 1)
        spy.join()
    failed = [r for r in results if r.returncode != 0]
    if failed or not raw_path.exists():
        return {"skipped": f"py-spy failed: {(failed[0].stderr if failed else 'no output')[-400:]}"}
    summary = summarise(raw_path.read_text())
    summary.update(
        {
            "tool": "py-spy record --rate 200 (while serving the throughput load)",
            "load_requests_per_s": load.as_dict()["requests_per_s"],
            "raw": str(raw_path),
            "flamegraph": str(svg_path),
        }
    )
    return summary
