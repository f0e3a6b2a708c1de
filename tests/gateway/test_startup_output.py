"""What `serve` and `demo` write while they start, read from the real processes: one "listening on" line
once the port answers, every line JSON when json_logs is on, and no spend ledger left behind by a demo."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.gateway.conftest import call
from tests.support.processes import clean_env, emulator_process, free_port, stop

MODEL = """
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
"""
UNKEYED_WARNING = "no master_key or api_keys configured"


class Output:
    """A process's merged stdout and stderr, read line by line in a thread so waits can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Read until a line matches; that line (everything read so far is in `lines`)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("the process ended first:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if predicate(line):
                return line
        raise AssertionError("no such line within the time:\n" + "\n".join(self.lines))

    def rest(self) -> list[str]:
        """Every line, after the process ended."""
        while (line := self._queue.get(timeout=30)) is not None:
            self.lines.append(line)
        return self.lines


@contextmanager
def started(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Iterator[Output]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Output(process)
    finally:
        stop(process)


def serve_args(config_path: Path, host: str, port: int, *more: str) -> list[str]:
    return ["serve", "--config", str(config_path), "--host", host, "--port", str(port), *more]


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator_process() as url:
        yield url


def gateway_env(emulator_url: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        {"AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url, "DATABASE_URL": f"sqlite:///{tmp_path}/spend.db"}
    )


def listening(line: str) -> bool:
    return "listening on http://" in line


# --- "listening on" -------------------------------------------------------------------------------------


def test_serve_says_where_it_listens_once_the_port_answers(emulator_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)
    port = free_port()
    with started(serve_args(config, "127.0.0.1", port), gateway_env(emulator_url, tmp_path)) as output:
        line = output.until(listening)
        assert f"listening on http://127.0.0.1:{port}" in line
        assert call(f"http://127.0.0.1:{port}/health", key=None)[0] == 200  # no retry: it is up already


def test_on_every_interface_it_says_so_and_gives_an_address_to_use(emulator_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)
    port = free_port()
    with started(serve_args(config, "0.0.0.0", port), gateway_env(emulator_url, tmp_path)) as output:
        line = output.until(listening)
        assert f"http://0.0.0.0:{port}" in line and "every IPv4 interface" in line
        assert f"http://localhost:{port}" in line
        assert call(f"http://localhost:{port}/health", key=None)[0] == 200


def test_several_workers_say_it_once(emulator_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)  # no key: each worker warns once at start-up, which shows both have started
    port = free_port()
    args = serve_args(config, "127.0.0.1", port, "--num-workers", "2")
    with started(args, gateway_env(emulator_url, tmp_path)) as output:
        output.until(lambda line: sum(UNKEYED_WARNING in seen for seen in output.lines) == 2)
        if not any(listening(line) for line in output.lines):
            output.until(listening)
        time.sleep(1.5)  # the second worker's start-up ends a few milliseconds after its warning
        output.process.terminate()
        output.process.wait(timeout=30)
        lines = output.rest()
    announced = [line for line in lines if listening(line)]
    assert len(announced) == 1, lines
    assert "with 2 workers" in announced[0]


def test_a_port_in_use_stops_the_start_with_advice(emulator_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with started(serve_args(config, "127.0.0.1", port), gateway_env(emulator_url, tmp_path)) as output:
            assert output.process.wait(timeout=30) == 1
            printed = "\n".join(output.rest())
    assert f"cannot listen on 127.0.0.1:{port}" in printed and "choose another --port" in printed
    assert not any(listening(line) for line in printed.splitlines())


# --- json_logs ------------------------------------------------------------------------------------------

JSON_CONFIG = MODEL + "litellm_settings:\n  json_logs: true\n  retry_after: 3\n"  # retry_after: a warning


def assert_all_json(lines: list[str]) -> list[dict]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\nin:\n" + "\n".join(lines))
    return records


@pytest.mark.parametrize("workers", ["1", "2"])
def test_with_json_logs_every_line_is_json_from_the_first(
    emulator_url: str, tmp_path: Path, workers: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(JSON_CONFIG)
    port = free_port()
    args = serve_args(config, "127.0.0.1", port, "--num-workers", workers)
    with started(args, gateway_env(emulator_url, tmp_path)) as output:
        output.until(listening)
        assert call(f"http://127.0.0.1:{port}/v1/chat/completions", {"model": "nope"}, key=None)[0] == 400
        output.process.terminate()
        output.process.wait(timeout=30)
        records = assert_all_json(output.rest())
    report = [record for record in records if record.get("config_key") == "litellm_settings.retry_after"]
    assert report and report[0]["level"] == "WARNING" and report[0]["config_line"] == 9, records
    assert "router_settings" in report[0]["message"]
    assert any(record["request_id"] != "-" for record in records), records  # the refused request's line


def test_with_json_logs_a_config_with_errors_is_reported_in_json(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list: []\nlitellm_settings:\n  json_logs: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", *serve_args(config, "127.0.0.1", free_port())],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    records = assert_all_json((result.stdout + result.stderr).splitlines())
    errors = [record for record in records if record["level"] == "ERROR"]
    assert any(record.get("config_key") == "model_list" for record in errors), records
    assert "fix them and start again" in errors[-1]["message"]


# --- demo -----------------------------------------------------------------------------------------------

BUDGET_CONFIG = (
    MODEL
    + """
general_settings:
  master_key: sk-1234
  api_keys:
    - key: sk-team
      spend_limit: 5
"""
)


def test_the_demo_keeps_its_spend_ledger_out_of_the_working_directory(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(BUDGET_CONFIG)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    env = clean_env()
    env.pop("DATABASE_URL", None)
    port = free_port()
    args = ["demo", "--config", str(config), "--port", str(port)]
    with started(args, env, cwd=workdir) as output:
        assert f"http://127.0.0.1:{port}" in output.until(listening)
        chat = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}
        assert call(f"http://127.0.0.1:{port}/v1/chat/completions", chat, key="sk-team")[0] == 200
        status, _, info = call(f"http://127.0.0.1:{port}/key/info", key="sk-team")
        assert status == 200 and info, info  # the budget is kept: the ledger exists, elsewhere
        assert list(workdir.iterdir()) == []
    assert list(workdir.iterdir()) == []
