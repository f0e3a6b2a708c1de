"""Closed-loop throughput: `wrk` (C, cheap on the shared load core) when installed, else the aiohttp
generator. Either way the result says which tool measured it."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import client
from bench.processes import LOAD_CORE, pinned
from bench.requests import Call

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class Throughput:
    tool: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rate: float
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict:
        return {
            "tool": self.tool,
            "connections": self.connections,
            "seconds": self.seconds,
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
        }


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua(call: Call, body_path: Path) -> str:
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in call.headers.items())
    return (
        'wrk.method = "POST"\n'
        f'local f = assert(io.open("{body_path}", "rb"))\n'
        "wrk.body = f:read('*a')\n"
        "f:close()\n"
        f"{headers}\n"
    )


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def parse_wrk(output: str, connections: int, seconds: float) -> Throughput:
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Throughput(
        "wrk",
        connections,
        seconds,
        int(requests.group(1)) if requests else 0,
        errors,
        float(rate.group(1)) if rate else 0.0,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
    )


def measure(call: Call, connections: int, seconds: float, *, use_wrk: bool = True) -> Throughput:
    if use_wrk and have_wrk():
        with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(call.body)
            script = Path(tmp) / "post.lua"
            script.write_text(_lua(call, body_path))
            command = pinned(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    "--latency",
                    "--timeout",
                    "10s",
                    "-s",
                    str(script),
                    call.url,
                ],
                LOAD_CORE,
            )
            done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode != 0:
                raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
            return parse_wrk(done.stdout, connections, seconds)
    result = client.run(lambda: client.closed_loop(call, connections, seconds))
    assert isinstance(result, client.LoadResult)
    from bench.stats import percentile

    return Throughput(
        "aiohttp",
        connections,
        seconds,
        len(result.latencies),
        result.errors,
        result.rate,
        percentile(result.latencies, 50) * 1000,
        percentile(result.latencies, 99) * 1000,
    )
