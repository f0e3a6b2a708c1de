"""Every config key takes effect or is reported at start-up by name: the keys read but not acted on yet warn
with 'has no effect yet' at their own path, and keys that work do not."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import load_config_text
from bedrock_proxy.config.effects import SETTINGS_WITHOUT_EFFECT

MODEL = """model_list:
  - model_name: haiku
    litellm_params:
      model: {model}
{extra}general_settings:
  master_key: sk-test-0123456789
"""


def load(
    settings: str = "", *, model: str = "bedrock/anthropic.claude-3-haiku-20240307-v1:0", extra: str = ""
):
    return load_config_text(MODEL.format(model=model, extra=extra) + settings, {})


def no_effect(config) -> dict[str, str]:
    return {issue.path: issue.message for issue in config.warnings if "has no effect yet" in issue.message}


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ("litellm_settings:\n  max_budget: 100\n", "litellm_settings.max_budget"),
        (
            "litellm_settings:\n  redact_user_api_key_info: true\n",
            "litellm_settings.redact_user_api_key_info",
        ),
    ],
)
def test_a_setting_without_effect_is_reported_at_its_path(settings, path):
    config = load(settings)
    assert path in no_effect(config), config.warnings
    assert not config.errors


def test_a_setting_turned_off_is_not_reported():
    assert no_effect(load("litellm_settings:\n  redact_user_api_key_info: false\n")) == {}


def test_the_list_of_settings_without_effect_names_only_real_settings():
    settings = load().settings
    assert all(hasattr(settings, name) for name in SETTINGS_WITHOUT_EFFECT)


@pytest.mark.parametrize(
    "settings",
    [
        '  alerting: ["slack"]\n  alerting_threshold: 3\n',
        "router_settings:\n  allowed_fails: 2\n  cooldown_time: 10\n",
        "litellm_settings:\n  set_verbose: true\n  json_logs: true\n",
        "router_settings:\n  enable_pre_call_checks: true\n",
        "  background_health_checks: true\n  health_check_interval: 60\n",
    ],
)
def test_settings_that_work_are_not_reported_as_without_effect(settings):
    assert no_effect(load(settings)) == {}


@pytest.mark.parametrize(
    ("param", "value", "reported"),
    [
        ("seed", "7", True),
        ("response_format", "{type: json_object}", True),
        ("presence_penalty", "0.5", True),
        ("temperature", "0.2", False),
        ("max_tokens", "100", False),
        ("reasoning_effort", "high", False),
    ],
)
def test_a_deployment_default_that_is_not_applied_is_reported(param, value, reported):
    config = load(extra=f"      {param}: {value}\n")
    path = f"model_list[0].litellm_params.{param}"
    assert (path in no_effect(config)) is reported, config.warnings


def test_bedrock_invoke_for_a_chat_model_is_reported_as_served_by_converse():
    config = load(model="bedrock/invoke/anthropic.claude-3-haiku-20240307-v1:0")
    message = no_effect(config)["model_list[0].litellm_params.model"]
    assert "Converse" in message
    assert no_effect(load(model="bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0")) == {}
