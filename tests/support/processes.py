"""Start the emulator and the gateway as real processes, the way users run them."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.tls import TlsFiles

EXAMPLE_KEY_PAIR = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    url: str, process: subprocess.Popen, timeout: float = 20.0, ca_file: str | None = None
) -> None:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("AWS_", "LANGFUSE_", "LITELLM_", "WANDB_", "WEAVE_", "HELICONE_", "LUNARY_", "PROMPTLAYER_")
        )
    }
    env.update(EXAMPLE_KEY_PAIR)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    env["BEDROCK_PROXY_ENV_FILE"] = "none"  # a developer's own .env in the working tree stays out of tests
    if extra:
        env.update(extra)
    return env


def serve_until_it_exits(config: Path, env: Mapping[str, str], timeout: float = 60) -> tuple[int, str]:
    """`serve` with the config, for a start-up that must refuse: its exit code and everything it printed."""
    run = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "serve", "--config", str(config), "--port", str(free_port())],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


@contextmanager
def running(
    args: list[str], health_url: str, env: Mapping[str, str], ca_file: str | None = None
) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(health_url, process, ca_file=ca_file)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def emulator_process(
    *options: str, env: Mapping[str, str] | None = None, tls: TlsFiles | None = None
) -> Iterator[str]:
    """An emulator process; with `tls`, served over HTTPS with that certificate."""
    port = free_port()
    args = ["emulator", "--port", str(port), *options]
    if tls is not None:
        args += ["--tls-cert", tls.cert, "--tls-key", tls.key]
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    with running(args, f"{url}/_emulator/health", clean_env(env), tls.ca if tls else None):
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
