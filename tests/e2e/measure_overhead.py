"""What Langfuse export costs a request, measured (not a test): `python -m tests.e2e.measure_overhead`.

Two gateways on one emulator (no SigV4 check), one with Langfuse on (a fake Langfuse in its own process),
one without; sequential keep-alive chat requests in interleaved rounds; p50/p90/p99 of each.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.e2e.support import (
    CHAT_MODEL,
    LANGFUSE_PUBLIC_KEY,
    LANGFUSE_SECRET_KEY,
    LANGFUSE_SETTINGS,
    MASTER_KEY,
    config_text,
    gateway,
    langfuse_env,
)
from tests.support.processes import emulator_process, free_port

BODY = json.dumps(
    {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 20}
)
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {MASTER_KEY}"}


def timed_requests(url: str, count: int) -> list[float]:
    host, port = url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port))
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("POST", "/v1/chat/completions", BODY, HEADERS)
        connection.getresponse().read()
        seconds.append(time.perf_counter() - started)
    connection.close()
    return seconds


def main(rounds: int = 5, per_round: int = 300) -> None:
    port = free_port()
    keys = ["--public-key", LANGFUSE_PUBLIC_KEY, "--secret-key", LANGFUSE_SECRET_KEY]
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.langfuse_server", "--port", str(port), *keys],
        stdout=subprocess.DEVNULL,
    )
    fake_url = f"http://127.0.0.1:{port}"
    try:
        time.sleep(1.5)
        with emulator_process("--no-verify") as emulator:
            tmp = Path(tempfile.mkdtemp())
            env = langfuse_env(fake_url)
            with (
                gateway(config_text(""), tmp, emulator_url=emulator, env=env) as off,
                gateway(config_text(LANGFUSE_SETTINGS), tmp, emulator_url=emulator, env=env) as on,
            ):
                timed_requests(off.url, 200)
                timed_requests(on.url, 200)
                results: dict[str, list[float]] = {"langfuse off": [], "langfuse on": []}
                for _ in range(rounds):
                    results["langfuse off"] += timed_requests(off.url, per_round)
                    results["langfuse on"] += timed_requests(on.url, per_round)
                for name, values in results.items():
                    values.sort()
                    p50, p90, p99 = (values[int(len(values) * q)] * 1000 for q in (0.5, 0.9, 0.99))
                    print(
                        f"{name}: p50 {p50:.3f} ms, p90 {p90:.3f} ms, p99 {p99:.3f} ms"
                        f" ({len(values)} requests)"
                    )
                with urllib.request.urlopen(f"{fake_url}/_test/stats") as response:
                    print("fake Langfuse:", response.read().decode())
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    main()
