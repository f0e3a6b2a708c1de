"""Start the emulator and the gateway as real processes, the way users run them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

EXAMPLE_KEY_PAIR = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_", "LITELLM_"))}
    env.update(EXAMPLE_KEY_PAIR)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


@contextmanager
def running(args: list[str], health_url: str, env: Mapping[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(health_url, process)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def emulator_process(*options: str, env: Mapping[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(["emulator", "--port", str(port), *options], f"{url}/_emulator/health", clean_env(env)):
        yield url


@contextmanager
def gateway_process(
    config_text: str, tmp_path: Path, *, emulator_url: str, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    config_path = tmp_path / f"config-{port}.yaml"
    config_path.write_text(config_text)
    extra = {
        "AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/spend-{port}.db",  # never a ledger in the working tree
    }
    extra.update(env or {})
    url = f"http://127.0.0.1:{port}"
    with running(
        ["serve", "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port)],
        f"{url}/health/readiness",
        clean_env(extra),
    ) as process:
        process.config_path = config_path  # type: ignore[attr-defined]
        yield url
