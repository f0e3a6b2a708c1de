"""`bedrock-proxy emulator` as a process: serves on the given port, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import orjson

from tests.emulator.conftest import HAIKU, make_client, user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, process.stderr.read() if process.stderr else "emulator exited"
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1) as response:
                if orjson.loads(response.read()) == {"status": "ok"}:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the emulator did not become healthy")


def test_the_emulator_command_serves_boto3_and_stops_cleanly_on_sigterm():
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bedrock_proxy",
            "emulator",
            "--port",
            str(port),
            "--fault-rate",
            "throttling=0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process)
        assert make_client("bedrock-runtime", url).converse(modelId=HAIKU, messages=user("hi"))["stopReason"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_bad_fault_rate_is_refused_with_a_message():
    result = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "emulator", "--fault-rate", "gremlins=0.5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unknown fault 'gremlins'" in result.stderr


def test_the_load_generator_measures_requests_per_second():
    from bedrock_proxy.emulator import EmulatorOptions, start_in_thread
    from bedrock_proxy.emulator.loadgen import run

    with start_in_thread(EmulatorOptions(verify=False)) as running:
        rate, failures = asyncio.run(run(running.url, HAIKU, concurrency=4, seconds=0.3, stream=False))
    assert rate > 0 and failures == 0
