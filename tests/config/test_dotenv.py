"""`.env` beside the config is read by serve, check-config and doctor, as Compose reads it; the environment
wins over the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bedrock_proxy.config.dotenv import apply_dotenv, find_dotenv, parse_dotenv
from tests.gateway.conftest import call
from tests.support.processes import clean_env, emulator_process, free_port, running

MODEL = """model_list:
  - model_name: claude-3-haiku
    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0, aws_region_name: eu-west-1}
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("KEY=value", {"KEY": "value"}),
        ("export KEY=value", {"KEY": "value"}),
        ("KEY = value  ", {"KEY": "value"}),
        ("KEY=", {"KEY": ""}),
        ("KEY=value # a comment", {"KEY": "value"}),
        ("KEY=sk-abc#not-a-comment", {"KEY": "sk-abc#not-a-comment"}),
        ("KEY='a # b $HOME'", {"KEY": "a # b $HOME"}),
        ('KEY="line\\nbreak \\"quoted\\""', {"KEY": 'line\nbreak "quoted"'}),
        (
            'WEBHOOK_HEADERS={"Authorization": "Bearer x"}',
            {"WEBHOOK_HEADERS": '{"Authorization": "Bearer x"}'},
        ),
        ("# only a comment", {}),
        ("", {}),
    ],
)
def test_each_line_is_read_as_compose_reads_it(line, expected):
    values, problems = parse_dotenv(line + "\n")
    assert values == expected and problems == []


def test_a_line_that_is_not_name_equals_value_is_named_with_its_number():
    values, problems = parse_dotenv("GOOD=1\nthis is not a variable\n9BAD=2\n")
    assert values == {"GOOD": "1"}
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3"]


def test_the_environment_wins_over_the_file(tmp_path):
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-from-file\nLANGFUSE_HOST=http://lf:3000\n")
    environ = {"LITELLM_MASTER_KEY": "sk-from-env"}
    result = apply_dotenv(tmp_path / "config.yaml", environ)
    assert environ == {"LITELLM_MASTER_KEY": "sk-from-env", "LANGFUSE_HOST": "http://lf:3000"}
    assert result.applied == ("LANGFUSE_HOST",) and result.overridden == ("LITELLM_MASTER_KEY",)


def test_the_file_beside_the_config_comes_before_the_working_directory(tmp_path, monkeypatch):
    beside, elsewhere = tmp_path / "etc", tmp_path / "cwd"
    beside.mkdir()
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("A=cwd\n")
    monkeypatch.chdir(elsewhere)
    assert find_dotenv(beside / "config.yaml") == elsewhere / ".env"
    (beside / ".env").write_text("A=beside\n")
    assert find_dotenv(beside / "config.yaml") == beside / ".env"
    assert find_dotenv(beside / "config.yaml", "none") is None


def _check(config: Path, **env: str) -> subprocess.CompletedProcess:
    environ = clean_env(env)
    environ.pop("BEDROCK_PROXY_ENV_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "check-config", "--config", str(config)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
    )


def test_check_config_finds_the_master_key_in_env_beside_the_config(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)
    assert "LITELLM_MASTER_KEY" in _check(config).stdout  # no key anywhere: said by name
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-from-dotenv\n")
    checked = _check(config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"read 1 variable(s) from {tmp_path / '.env'}" in checked.stdout
    assert "master" not in checked.stdout.split("\n", 2)[-1]  # no master-key warning any more


def test_serve_takes_its_master_key_from_env_and_the_environment_overrides_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(MODEL)
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-from-dotenv\n")
    with emulator_process() as emulator_url:
        for env, accepted, refused in [
            ({}, "sk-from-dotenv", "sk-other"),
            ({"LITELLM_MASTER_KEY": "sk-from-env"}, "sk-from-env", "sk-from-dotenv"),
        ]:
            port = free_port()
            environ = clean_env({"AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url, **env})
            environ.pop("BEDROCK_PROXY_ENV_FILE", None)
            args = ["serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
            with running(args, f"http://127.0.0.1:{port}/health/readiness", environ):
                body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "hi"}]}
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                assert call(url, body, key=accepted)[0] == 200
                assert call(url, body, key=refused)[0] == 401


def test_the_shipped_config_without_its_master_key_says_where_to_put_one_and_how_to_make_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((Path(__file__).resolve().parents[2] / "config.yaml").read_text())
    checked = _check(config)
    assert checked.returncode == 1
    (line,) = [line for line in checked.stdout.splitlines() if line.startswith("error")]
    assert "LITELLM_MASTER_KEY is not set" in line and ".env" in line and "openssl rand -hex 16" in line
