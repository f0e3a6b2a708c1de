"""The real Codex CLI (npm @openai/codex, installed by .ci/run into .ci/agents) answers through the gateway
against the emulator, offline, with the README's config.toml; its calls show in /spend/logs under
the key it used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bedrock_proxy.keys import key_id
from tests.conftest import seed_config
from tests.e2e.support import eventually
from tests.support.processes import gateway_process

ROOT = Path(__file__).resolve().parents[2]
TEAM_KEY = "sk-team-a"  # seed_config: may use claude-3-5-sonnet, the README's model


def codex_binary() -> str | None:
    local = ROOT / ".ci" / "agents" / "node_modules" / ".bin" / "codex"
    return str(local) if local.exists() else shutil.which("codex")


CODEX = codex_binary()
IN_CI = os.environ.get("BEDROCK_PROXY_CI") == "1"
pytestmark = pytest.mark.skipif(
    CODEX is None and not IN_CI,
    reason="the Codex CLI is not installed: npm install --prefix .ci/agents --no-audit --no-fund"
    " @openai/codex (.ci/run does)",
)


def readme_codex_config(gateway_url: str) -> tuple[str, str]:
    """The config.toml of the README's "Codex" section, pointed at this gateway; and the model it names."""
    section = (ROOT / "README.md").read_text().split("## Codex", 1)[1].split("\n## ", 1)[0]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert 'base_url = "http://localhost:4002/v1"' in toml
    model = toml.split('model = "', 1)[1].split('"', 1)[0]
    return toml.replace("http://localhost:4002", gateway_url), model


def spend_logs(gateway_url: str) -> list[dict]:
    request = urllib.request.Request(f"{gateway_url}/spend/logs", headers={"Authorization": "Bearer sk-1234"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_codex_exec_answers_through_the_gateway(emulator_url: str, tmp_path: Path) -> None:
    assert CODEX is not None, "BEDROCK_PROXY_CI=1 but the Codex CLI is not installed: .ci/run installs it"
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    with gateway_process(seed_config(), tmp_path, emulator_url=emulator_url) as gateway_url:
        toml, model = readme_codex_config(gateway_url)
        (home / ".codex" / "config.toml").write_text(toml)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "CODEX_HOME": str(home / ".codex"),
            "GW_KEY": TEAM_KEY,
        }
        result = subprocess.run(
            [CODEX, "exec", "--skip-git-repo-check", "Say hello"],
            env=env,
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip(), result.stderr[-3000:]  # the model's last answer
        assert "stream disconnected" not in result.stderr
        logs = eventually(
            lambda: [entry for entry in spend_logs(gateway_url) if entry["api_key"] == key_id(TEAM_KEY)],
            message="Codex's calls are not in /spend/logs under its key",
        )
    assert {entry["model"] for entry in logs} == {model}
    assert all(entry["total_tokens"] > 0 for entry in logs)
