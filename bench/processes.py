"""The servers under test as real processes, each pinned to a core with `taskset`, logs to files.

Pinning: the gateway (or peer) gets core 0 alone; the emulators, the fake Langfuse and the load generator
share core 1, so the gateway's figures are not eaten by its own load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

GATEWAY_CORE = 0
LOAD_CORE = 1
EXAMPLE_KEY_PAIR = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pin_self(core: int = LOAD_CORE) -> None:
    """Keep the load generator off the gateway's core (no-op on a one-core machine)."""
    if cores() > 1:
        os.sched_setaffinity(0, {core})


def pinned(command: list[str], core: int | str) -> list[str]:
    if cores() > 1 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *command]
    return command


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_", "LITELLM_"))}
    env.update(EXAMPLE_KEY_PAIR)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_DEFAULT_REGION"] = "eu-west-1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    if extra:
        env.update(extra)
    return env


@dataclass
class Server:
    """A started server: its URL, process and log file."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        """Resident memory of the process and its children (VmRSS), in MB."""
        return round(sum(_vmrss_kb(pid) for pid in _tree(self.pid)) / 1024, 1)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children so far: per-request cost that other
        load on the machine cannot inflate the way it inflates wall-clock rates."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.pid))

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            pids.append(child)
            frontier.append(child)
    return pids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _vmrss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_until_up(server: Server, health_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.url + health_path
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.process.returncode} before {url} answered:\n"
                + server.log_tail()
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name}: {url} did not answer within {timeout:.0f} s:\n{server.log_tail()}")


@contextlib.contextmanager
def running(
    name: str,
    command: list[str],
    *,
    core: int | str,
    port: int,
    health_path: str,
    env: Mapping[str, str],
    logs: Path,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Start `command` pinned to `core`, wait for `health_path` to answer 200, stop it (SIGTERM) on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(command, core), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_up(server, health_path, timeout)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def emulator(name: str, logs: Path, *options: str) -> contextlib.AbstractContextManager[Server]:
    """`bedrock-proxy emulator --no-verify` on core 1: overhead runs must not time SigV4 verification."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bedrock_proxy",
        "emulator",
        "--port",
        str(port),
        "--no-verify",
        *options,
    ]
    return running(
        name, command, core=LOAD_CORE, port=port, health_path="/_emulator/health", env=clean_env(), logs=logs
    )


def gateway(
    name: str, config_path: Path, logs: Path, env: Mapping[str, str] | None = None, *, workers: int = 1
) -> contextlib.AbstractContextManager[Server]:
    """`bedrock-proxy serve` with one worker, alone on core 0 (several workers: on every core)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bedrock_proxy",
        "serve",
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num-workers",
        str(workers),
    ]
    return running(
        name,
        command,
        core=GATEWAY_CORE if workers == 1 else ",".join(str(core) for core in range(cores())),
        port=port,
        health_path="/health/readiness",
        env=clean_env(env),
        logs=logs,
    )


def fake_langfuse(logs: Path, public_key: str, secret_key: str) -> contextlib.AbstractContextManager[Server]:
    """The test suite's fake Langfuse (tests/fakes/langfuse_server.py) on core 1."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tests.fakes.langfuse_server",
        "--port",
        str(port),
        "--public-key",
        public_key,
        "--secret-key",
        secret_key,
    ]
    return running(
        "langfuse",
        command,
        core=LOAD_CORE,
        port=port,
        health_path="/api/public/health",
        env=clean_env(),
        logs=logs,
    )
