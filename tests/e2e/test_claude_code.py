"""The real Claude Code CLI through the gateway, against the emulator, offline: `claude -p` answers and its
calls are in /spend/logs under the key it used; with `--allowedTools Read` it completes a tool loop (the
model asks for Read, Claude Code reads the file, the next call carries the tool result).

The CLI comes from npm (`.ci/run` installs it into .ci/agents); the tests skip only when it is not installed
and this is not CI (BEDROCK_PROXY_CI=1, which .ci/run sets, makes a missing CLI a failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import gateway_process

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLI = ROOT / ".ci" / "agents" / "node_modules" / ".bin" / "claude"
MASTER_KEY = "sk-master-cc"
CODER_KEY = "sk-claude-code"
MODEL = "claude-code-model"  # a config name, as a team would set ANTHROPIC_MODEL
THINKING_MODEL = "claude-code-thinking"  # Claude 3.7 Sonnet: extended thinking and prompt caching


def claude_cli() -> str | None:
    if LOCAL_CLI.exists():
        return str(LOCAL_CLI)
    return shutil.which("claude")


CLI = claude_cli()
IN_CI = os.environ.get("BEDROCK_PROXY_CI") == "1" or bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(
    CLI is None and not IN_CI,
    reason="Claude Code is not installed: npm install --prefix .ci/agents --no-audit --no-fund"
    " @anthropic-ai/claude-code (.ci/run does)",
)

CONFIG = f"""
model_list:
  - model_name: {MODEL}
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
  - model_name: {THINKING_MODEL}
    litellm_params:
      model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: eu-west-1
general_settings:
  master_key: {MASTER_KEY}
  api_keys:
    - key: {CODER_KEY}
      key_alias: claude-code
"""


@pytest.fixture(scope="module")
def gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(
        CONFIG, tmp_path_factory.mktemp("claude-code-gateway"), emulator_url=emulator_url
    ) as url:
        yield url


def readme_env() -> dict[str, str]:
    """The variables the README's "Claude Code" section exports (`export A=1 B=2  # comment` lines)."""
    section = (ROOT / "README.md").read_text().split("## Claude Code", 1)[1].split("\n## ", 1)[0]
    script = section.split("```sh\n", 1)[1].split("```", 1)[0]
    env: dict[str, str] = {}
    for line in script.splitlines():
        if line.startswith("export "):
            for assignment in line.split("#", 1)[0].split()[1:]:
                name, _, value = assignment.partition("=")
                env[name] = value
    return env


def test_the_readme_gives_the_gateway_url_a_key_and_the_model_names() -> None:
    env = readme_env()
    assert env["ANTHROPIC_BASE_URL"] == "http://localhost:4002"  # Claude Code adds /v1/messages itself
    assert {"ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL"} <= set(env)


def run_claude(gateway: str, home: Path, project: Path, *args: str, model: str = MODEL) -> dict[str, Any]:
    """`claude -p ... --output-format json` with the environment of the README's "Claude Code" section,
    pointed at this gateway, its key and its model names."""
    assert CLI is not None, "Claude Code is not installed, and CI must run these tests"
    home.mkdir(exist_ok=True)
    env = {
        **readme_env(),
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gateway,
        "ANTHROPIC_AUTH_TOKEN": CODER_KEY,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": MODEL,
    }
    finished = subprocess.run(
        [CLI, "-p", *args, "--output-format", "json"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def spend_rows(gateway: str, wanted: int) -> list[dict[str, Any]]:
    """The key's /spend/logs rows, once at least `wanted` landed (the ledger writes in the background)."""
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{gateway}/spend/logs?api_key={CODER_KEY}")
        request.add_header("Authorization", f"Bearer {MASTER_KEY}")
        with urllib.request.urlopen(request, timeout=10) as response:
            rows = json.loads(response.read())
        if len(rows) >= wanted:
            return rows
        time.sleep(0.2)
    return rows


def test_claude_p_answers_through_the_gateway_and_is_in_the_spend_logs(gateway: str, tmp_path: Path) -> None:
    before = len(spend_rows(gateway, 0))
    result = run_claude(gateway, tmp_path / "home", tmp_path, "Say hello")
    assert result["is_error"] is False and result["subtype"] == "success"
    assert result["result"] == "Emulated answer: Say hello"
    rows = spend_rows(gateway, before + 1)
    assert len(rows) > before
    assert {(row["key_alias"], row["model"], row["call_type"]) for row in rows} == {
        ("claude-code", MODEL, "chat")
    }
    assert all(row["prompt_tokens"] > 0 for row in rows)


@pytest.mark.parametrize("model", [MODEL, THINKING_MODEL])
def test_a_read_tool_loop_completes(gateway: str, tmp_path: Path, model: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    notes = project / "notes.txt"
    notes.write_text("The secret word is pelican.\n")
    before = len(spend_rows(gateway, 0))
    # the marker makes the emulated model call Read (with the path named in the prompt) on the first turn
    result = run_claude(
        gateway,
        tmp_path / "home",
        project,
        f"Read {notes} and tell me the secret word [[emu:tool=Read]]",
        "--allowedTools",
        "Read",
        model=model,
    )
    assert result["is_error"] is False and result["num_turns"] >= 2
    assert result["permission_denials"] == []
    # the second model call carried the tool result: the emulated model answers with what the tool returned
    assert result["result"].startswith("The tool returned:") and "pelican" in result["result"]
    assert len(spend_rows(gateway, before + 2)) >= before + 2
    if model == THINKING_MODEL:
        # Claude Code asks for adaptive thinking: Claude 3.7 gets a budget, its signed thinking goes back
        # unchanged with the tool result (the emulator refuses a changed one), and the second call reads
        # the prompt prefix the first one wrote
        assert result["usage"]["cache_read_input_tokens"] > 0
