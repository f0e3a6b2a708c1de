"""The start-up checks that `serve` and `check-config` share: sinks, ledger URL, TLS trust, and prices.

Each case is checked twice where it matters: in-process through `full_report`, and as the operator meets
it, through `check-config` and `serve` as processes, which must agree on every error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bedrock_proxy.config import load_config_text
from bedrock_proxy.doctor import FAIL, OK, check_prices
from bedrock_proxy.preflight import full_report, reachable_models
from tests.support.processes import clean_env, free_port

MODELS = """model_list:
  - model_name: claude-3-haiku
    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0, aws_region_name: eu-west-1}
  - model_name: pixtral
    litellm_params: {model: bedrock/mistral.devstral-2-123b, aws_region_name: eu-west-1}
"""
MASTER = "general_settings:\n  master_key: sk-1234\n"


def report(text: str, environ: dict[str, str] | None = None) -> list:
    config = load_config_text(text, environ or {})
    return full_report(config, environ or {})


def found(issues: list, level: str, path: str, *words: str) -> list:
    hits = [i for i in issues if i.level == level and i.path == path]
    assert hits, "\n".join(str(i) for i in issues) or "no issues"
    for word in words:
        assert any(word in i.message for i in hits), (word, [str(i) for i in hits])
    return hits


@pytest.mark.parametrize(
    ("callbacks", "words"),
    [
        ("[langfuse]", ["LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"]),
        ("[webhook]", ["WEBHOOK_URL"]),
        ("[traceloop]", ["TRACELOOP_API_KEY"]),
        ("[otel]", ["OTEL_EXPORTER_OTLP_ENDPOINT"]),
    ],
)
def test_a_callback_without_its_settings_is_a_warning_naming_the_variable(callbacks, words):
    issues = report(MODELS + MASTER + f"litellm_settings:\n  success_callback: {callbacks}\n")
    found(issues, "warning", "litellm_settings.success_callback", *words, "sink is off")


def test_invalid_webhook_headers_are_an_error_as_serve_sees_them():
    environ = {"WEBHOOK_URL": "https://hooks.example/x", "WEBHOOK_HEADERS": "{not json"}
    issues = report(MODELS + MASTER + "litellm_settings:\n  success_callback: [webhook]\n", environ)
    found(issues, "error", "litellm_settings.success_callback", "WEBHOOK_HEADERS must be a JSON object")


def test_an_unreadable_ca_bundle_is_an_error_naming_the_file(tmp_path):
    missing = str(tmp_path / "no-such-ca.pem")
    issues = report(MODELS + MASTER, {"AWS_CA_BUNDLE": missing})
    found(issues, "error", "AWS_CA_BUNDLE (environment)", missing)


BUDGET_KEY = """  api_keys:
    - key: sk-team
      spend_limit: 5
      models: [{models}]
"""


def test_a_budgeted_key_that_may_call_an_unpriced_model_is_an_error_naming_it_and_the_fix():
    issues = report(MODELS + MASTER + BUDGET_KEY.format(models="pixtral"))
    (issue,) = found(issues, "error", "model_list[1] (pixtral)")
    assert "mistral.devstral-2-123b" in issue.message and "api_keys[0]" in issue.message
    assert "input_cost_per_token" in issue.message and "output_cost_per_token" in issue.message


def test_a_budgeted_key_reaching_an_unpriced_model_through_a_fallback_is_an_error():
    text = MODELS + "litellm_settings:\n  fallbacks: [{claude-3-haiku: [pixtral]}]\n"
    text += MASTER + BUDGET_KEY.format(models="claude-3-haiku")
    found(report(text), "error", "model_list[1] (pixtral)", "budget of api_keys[0]")


def test_a_key_without_models_reaches_every_model_and_an_alias_reaches_its_target():
    config = load_config_text(
        MODELS + "router_settings:\n  model_group_alias: {fast: pixtral}\n" + MASTER, {}
    )
    names = config.model_names()
    assert reachable_models(config.settings, [], names) == set(names)
    assert reachable_models(config.settings, ["fast"], names) == {"fast", "pixtral"}


def test_an_unpriced_model_no_budget_reaches_is_a_warning_only():
    issues = report(MODELS + MASTER + BUDGET_KEY.format(models="claude-3-haiku"))
    found(issues, "warning", "model_list[1] (pixtral)", "report no cost")
    assert not [i for i in issues if i.level == "error"]


def test_prices_set_on_the_deployment_make_the_model_priced():
    text = MODELS.replace(
        "aws_region_name: eu-west-1}\n",
        "aws_region_name: eu-west-1, input_cost_per_token: 0.000002, output_cost_per_token: 0.000006}\n",
    )
    issues = report(text + MASTER + BUDGET_KEY.format(models="pixtral"))
    assert not [i for i in issues if "price" in i.message], [str(i) for i in issues]


def test_the_shipped_llama_substitutes_are_priced():
    root = Path(__file__).resolve().parents[1] / "config.yaml"
    config = load_config_text(root.read_text(), {"LITELLM_MASTER_KEY": "sk-x"})
    assert [c.status for c in check_prices(config)] == [OK], check_prices(config)


def test_doctor_fails_on_an_unpriced_model_a_budget_reaches_and_says_how_to_price_it():
    config = load_config_text(MODELS + MASTER + BUDGET_KEY.format(models="pixtral"), {})
    (check,) = check_prices(config)
    assert check.status == FAIL and "pixtral" in check.subject
    assert "input_cost_per_token" in check.fix


# --- the same through the commands ---------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=clean_env({"BEDROCK_PROXY_ENV_FILE": "none", **(env or {})}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("extra", "env", "expected"),
    [
        (
            "litellm_settings:\n  success_callback: [webhook]\n",
            {"WEBHOOK_URL": "https://hooks.example/x", "WEBHOOK_HEADERS": "[1]"},
            "WEBHOOK_HEADERS must be a JSON object",
        ),
        (
            BUDGET_KEY.format(models="pixtral"),
            {},
            "mistral.devstral-2-123b in eu-west-1 has no price",
        ),
    ],
    ids=["webhook-headers", "unpriced-budget"],
)
def test_check_config_fails_exactly_where_serve_refuses_to_start(tmp_path, extra, env, expected):
    text = MODELS + (MASTER + extra if extra.startswith("  ") else extra + MASTER)
    path = _write(tmp_path, text)
    checked = _run("check-config", "--config", str(path), env=env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert expected in checked.stdout
    served = _run("serve", "--config", str(path), "--port", str(free_port()), env=env)
    assert served.returncode == 1, served.stdout + served.stderr
    assert expected in served.stderr and "has errors" in served.stderr


def test_check_config_warns_that_traceloop_will_be_off_without_its_key(tmp_path):
    path = _write(tmp_path, MODELS + MASTER + "litellm_settings:\n  success_callback: [traceloop]\n")
    checked = _run("check-config", "--config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = [line for line in checked.stdout.splitlines() if "TRACELOOP_API_KEY" in line]
    assert lines and lines[0].startswith("warning litellm_settings.success_callback"), checked.stdout
