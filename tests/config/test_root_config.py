"""The repository's config.yaml, the demo config, and `bedrock-proxy check-config`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bedrock_proxy.bedrock.availability import availability_of, callable_from
from bedrock_proxy.config import ConfigError, demo_config, load_config
from bedrock_proxy.config.demo import DEMO_MODELS, EXAMPLE_ACCESS_KEY_ID
from bedrock_proxy.preflight import check_config_from_args

from .support import SEED_MODELS

# the current models config.yaml adds after the seed's, by the name users look for: name -> foundation id
CURRENT_MODELS = {
    "claude-sonnet-4-5": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5": "anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-opus-4-5": "anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-sonnet-4-6": "anthropic.claude-sonnet-4-6",
    "claude-opus-4-6": "anthropic.claude-opus-4-6-v1",
    "claude-opus-4-7": "anthropic.claude-opus-4-7",
    "claude-sonnet-4": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-3-7-sonnet": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "nova-pro": "amazon.nova-pro-v1:0",
    "nova-lite": "amazon.nova-lite-v1:0",
    "nova-micro": "amazon.nova-micro-v1:0",
    "nova-2-lite": "amazon.nova-2-lite-v1:0",
    "gpt-oss-120b": "openai.gpt-oss-120b-1:0",
    "gpt-oss-20b": "openai.gpt-oss-20b-1:0",
    "llama3-2-3b": "meta.llama3-2-3b-instruct-v1:0",
    "llama3-2-1b": "meta.llama3-2-1b-instruct-v1:0",
    "pixtral-large": "mistral.pixtral-large-2502-v1:0",
    "ministral-3-8b": "mistral.ministral-3-8b-instruct",
    "ministral-3-14b": "mistral.ministral-3-14b-instruct",
    "cohere-embed-v4": "cohere.embed-v4:0",
}
ALL_MODELS = {**SEED_MODELS, **CURRENT_MODELS}
ROOT = Path(__file__).resolve().parents[2]
ROOT_CONFIG = ROOT / "config.yaml"
FULL_ENV = {"LITELLM_MASTER_KEY": "sk-test", "LANGFUSE_PUBLIC_KEY": "pk-lf", "LANGFUSE_SECRET_KEY": "sk-lf"}


def test_root_config_loads_cleanly_with_its_environment():
    config = load_config(ROOT_CONFIG, dict(FULL_ENV))
    assert config.issues == []
    assert config.model_names() == list(ALL_MODELS)  # the seed's names first, kept as they were
    assert config.settings.master_key == "sk-test"
    assert config.settings.success_callbacks == ["langfuse"]
    assert config.settings.routing_strategy == "simple-shuffle"
    assert config.settings.fallbacks == {
        "claude-3-5-sonnet": ["claude-3-haiku"],
        "claude-3-opus": ["claude-3-sonnet"],
    }


def test_root_config_calls_every_model_from_eu_west_1_on_demand_or_through_an_eu_profile():
    config = load_config(ROOT_CONFIG, dict(FULL_ENV))
    for deployment in config.deployments:
        assert deployment.region == "eu-west-1"
        assert deployment.endpoint is None and deployment.aws_access_key_id is None
        assert not deployment.model_id.startswith(("us.", "apac.", "global."))
    modes = {d.model_name: d.mode for d in config.deployments}
    assert {name for name, mode in modes.items() if mode == "embedding"} == {
        "titan-embed-text",
        "titan-embed-text-v2",
        "cohere-embed-v4",
    }


KINDS = ("ON-DEMAND", "EU PROFILE", "SUBSTITUTE")


def comment_kinds() -> dict[str, str]:
    """model_name -> the kind a line of its comment block starts with (`# ON-DEMAND ...`), "" when none."""
    lines = ROOT_CONFIG.read_text().splitlines()
    kinds = {}
    for index, line in enumerate(lines):
        if line.strip().startswith("- model_name:"):
            start = index
            while lines[start - 1].strip().startswith("#"):
                start -= 1
            block = [text.strip().removeprefix("#").strip() for text in lines[start:index]]
            name = line.split(":", 1)[1].strip()
            kinds[name] = next((k for text in block for k in KINDS if text.startswith(k)), "")
    return kinds


def test_root_config_says_for_every_model_which_kind_of_mapping_it_is():
    assert set(comment_kinds().values()) <= set(KINDS) and "" not in comment_kinds().values()
    assert list(comment_kinds()) == list(ALL_MODELS)
    assert "bedrock-proxy doctor" in ROOT_CONFIG.read_text()


def test_root_config_comments_agree_with_the_availability_table():
    kinds = comment_kinds()
    config = load_config(ROOT_CONFIG, dict(FULL_ENV))
    for deployment in config.deployments:
        name, model_id, region = deployment.model_name, deployment.model_id, deployment.region
        seed_id = ALL_MODELS[name]
        assert callable_from(model_id, region), (name, model_id)
        if kinds[name] == "ON-DEMAND":
            assert model_id == seed_id, name
        elif kinds[name] == "EU PROFILE":
            assert model_id == f"eu.{seed_id}", name
            assert name in SEED_MODELS or not callable_from(seed_id, region), name  # a profile is needed
        else:  # SUBSTITUTE: the seed's model cannot be called from here, and the table names this one
            seed = availability_of(seed_id)
            assert not seed.offered_in(region), name
            assert model_id == seed.eu_substitute, name


def test_root_config_without_the_master_key_variable_names_it():
    environ = {name: value for name, value in FULL_ENV.items() if name != "LITELLM_MASTER_KEY"}
    with pytest.raises(ConfigError) as raised:
        load_config(ROOT_CONFIG, environ)
    [error] = [issue for issue in raised.value.issues if issue.level == "error"]
    assert error.path == "general_settings.master_key"
    assert "LITELLM_MASTER_KEY is not set" in error.message


def test_demo_models_mirror_the_root_config():
    data = yaml.safe_load(ROOT_CONFIG.read_text())
    assert {
        entry["model_name"]: entry["litellm_params"]["model"] for entry in data["model_list"]
    } == DEMO_MODELS


def test_demo_config_needs_no_environment_and_points_every_model_at_the_emulator(monkeypatch):
    for name in ("LITELLM_MASTER_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEDROCK_RUNTIME_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    config = demo_config("http://127.0.0.1:4010/")
    assert config.settings.master_key == "sk-1234"
    assert config.model_names() == list(ALL_MODELS)
    assert {d.endpoint for d in config.deployments} == {"http://127.0.0.1:4010"}
    assert {d.aws_access_key_id for d in config.deployments} == {EXAMPLE_ACCESS_KEY_ID}
    assert {d.region for d in config.deployments} == {"eu-west-1"}
    assert not config.settings.all_callbacks and not config.errors


def test_demo_config_from_a_file_keeps_its_models_and_uses_the_emulator(tmp_path, monkeypatch):
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    config = demo_config("http://127.0.0.1:4999", ROOT_CONFIG)
    assert config.settings.master_key == "sk-1234"
    assert {d.endpoint for d in config.deployments} == {"http://127.0.0.1:4999"}
    assert all(d.aws_role_name is None and d.aws_secret_access_key for d in config.deployments)


def test_every_demo_model_is_known_to_the_emulator():
    catalogue = pytest.importorskip("bedrock_proxy.emulator.catalogue")
    for model in DEMO_MODELS.values():
        model_id = model.removeprefix("bedrock/")
        assert model_id in catalogue.MODELS or model_id in catalogue.PROFILES, model_id


def _run_check(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LITELLM_", "LANGFUSE_", "AWS_", "REDIS_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "check-config", "--config", str(path)],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_exits_0_on_the_root_config_and_1_when_its_key_is_missing():
    ok = _run_check(ROOT_CONFIG, **FULL_ENV)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "33 deployments in 33 model groups; 0 errors, 0 warnings" in ok.stdout
    missing = _run_check(ROOT_CONFIG)
    assert missing.returncode == 1
    assert "error   general_settings.master_key" in missing.stdout and "LITELLM_MASTER_KEY" in missing.stdout
    assert "1 error, 1 warning" in missing.stdout  # the master key, and Langfuse's missing keys


def test_check_config_with_the_empty_master_key_of_env_example_names_the_variable_and_how_to_make_one():
    """.env.example ships LITELLM_MASTER_KEY= empty: the report must say what to fill, and not also claim
    that requests would be accepted without authentication (the gateway refuses to start)."""
    done = _run_check(ROOT_CONFIG, **{**FULL_ENV, "LITELLM_MASTER_KEY": ""})
    assert done.returncode == 1
    [error] = [line for line in done.stdout.splitlines() if line.startswith("error")]
    assert error.startswith("error   general_settings.master_key")
    assert "LITELLM_MASTER_KEY is set but empty" in error
    assert 'echo "sk-$(openssl rand -hex 16)"' in error
    assert "without authentication" not in done.stdout
    assert "1 error, 0 warnings" in done.stdout


def test_check_config_prints_one_line_per_issue_errors_first_then_a_summary(tmp_path, capsys, monkeypatch):
    for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LITELLM_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n  - model_name: a\n    litellm_params: {model: bedrock/amazon.nova-micro-v1:0}\n"
        "litellm_settings:\n  retry_after: 5\n  num_retries: -1\n"
        "general_settings:\n  master_key: sk-1\n"
    )
    assert check_config_from_args(argparse.Namespace(config=str(path))) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{path}:",
        "error   litellm_settings.num_retries (line 6): must be at least 0, got -1",
        "warning litellm_settings.retry_after (line 5): read as router_settings.retry_after; it belongs in "
        "router_settings (LiteLLM ignores it under litellm_settings), move it there",
        "1 deployment in 1 model group; 1 error, 1 warning",
    ]


def test_check_config_reports_a_missing_file(tmp_path, capsys):
    assert check_config_from_args(argparse.Namespace(config=str(tmp_path / "nope.yaml"))) == 1
    assert "cannot read" in capsys.readouterr().out
