"""Deployments carry what the router and provider need, and never show their secrets."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import ConfigError, format_report, load_config_text

from .support import inspect

SECRETS = {
    "aws_access_key_id": "AKIASECRETACCESSKEY1",
    "aws_secret_access_key": "s3cr3t-secret-access-key",
    "aws_session_token": "session-token-value",
    "aws_bearer_token": "bearer-token-value",
    "api_key": "api-key-value",
}
FULL = """
model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/converse/eu.anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: eu-west-1
      aws_access_key_id: AKIASECRETACCESSKEY1
      aws_secret_access_key: s3cr3t-secret-access-key
      aws_session_token: session-token-value
      aws_bearer_token: bearer-token-value
      api_key: api-key-value
      aws_role_name: arn:aws:iam::123456789012:role/bedrock
      aws_session_name: gateway
      aws_profile_name: prod
      aws_bedrock_runtime_endpoint: https://user:password-in-url@bedrock.internal:8443/
      rpm: 60
      tpm: 100000
      weight: 3
      timeout: 30
      stream_timeout: 10
      max_retries: 1
      max_parallel_requests: 8
      input_cost_per_token: 3e-06
      output_cost_per_token: 1.5e-05
      max_completion_tokens: 1024
      temperature: 0.2
      top_p: 0.9
      top_k: 50
      stop: ["END"]
    model_info:
      max_input_tokens: 200000
      supports_vision: true
general_settings:
  master_key: sk-master-secret
"""


@pytest.fixture(scope="module")
def deployment():
    return load_config_text(FULL, {}).deployments[0]


def test_a_full_model_entry_fills_every_deployment_field(deployment):
    assert (deployment.deployment_id, deployment.model_name) == ("claude#0", "claude")
    assert (deployment.model_id, deployment.api) == (
        "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "converse",
    )
    assert (deployment.region, deployment.endpoint) == ("eu-west-1", "https://bedrock.internal:8443")
    assert (deployment.aws_access_key_id, deployment.aws_secret_access_key) == (
        SECRETS["aws_access_key_id"],
        SECRETS["aws_secret_access_key"],
    )
    assert (deployment.aws_session_token, deployment.aws_bearer_token) == (
        SECRETS["aws_session_token"],
        SECRETS["aws_bearer_token"],
    )
    assert (deployment.aws_role_name, deployment.aws_session_name, deployment.aws_profile_name) == (
        "arn:aws:iam::123456789012:role/bedrock",
        "gateway",
        "prod",
    )
    assert (deployment.rpm, deployment.tpm, deployment.weight) == (60, 100000, 3)
    assert (deployment.timeout, deployment.stream_timeout, deployment.max_retries) == (30, 10, 1)
    assert deployment.max_parallel_requests == 8
    assert (deployment.input_cost_per_token, deployment.output_cost_per_token) == (3e-06, 1.5e-05)
    assert deployment.defaults == {
        "max_tokens": 1024,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 50,
        "stop": ["END"],
    }
    assert deployment.model_info == {"max_input_tokens": 200000, "supports_vision": True, "mode": "chat"}
    assert deployment.mode == "chat"


def test_public_params_hold_no_secret_but_keep_what_users_debug_with(deployment):
    public = deployment.public_params()
    shown = repr(public)
    for name, value in SECRETS.items():
        assert name not in public and value not in shown
    assert "password-in-url" not in shown
    assert public["aws_bedrock_runtime_endpoint"] == "https://bedrock.internal:8443/"
    assert public["model"] == "bedrock/converse/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert (public["aws_region_name"], public["rpm"], public["max_completion_tokens"]) == (
        "eu-west-1",
        60,
        1024,
    )


def test_reprs_and_reports_never_show_secrets():
    config = load_config_text(FULL, {})
    assert [issue.path for issue in config.issues] == [
        "model_list[0].litellm_params.aws_bedrock_runtime_endpoint"
    ]
    shown = repr(config) + repr(config.deployments) + repr(config.settings) + format_report(config)
    for value in [*SECRETS.values(), "sk-master-secret"]:
        assert value not in shown


def test_error_messages_never_quote_a_secret_value():
    text = FULL.replace("aws_session_token: session-token-value", "aws_session_token: [session-token-value]")
    text += "  api_keys:\n    - key: sk-team-secret\n    - key: sk-team-secret\n"
    with pytest.raises(ConfigError) as raised:
        load_config_text(text, {})
    shown = str(raised.value) + format_report(raised.value.issues)
    assert "session-token-value" not in shown and "sk-team-secret" not in shown
    assert "model_list[0].litellm_params.aws_session_token" in shown


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("bedrock/amazon.titan-embed-text-v1", "embedding"),
        ("bedrock/amazon.titan-embed-text-v2:0", "embedding"),
        ("bedrock/cohere.embed-multilingual-v3", "embedding"),
        ("bedrock/anthropic.claude-3-haiku-20240307-v1:0", "chat"),
        ("bedrock/amazon.titan-text-express-v1", "chat"),
    ],
)
def test_mode_is_inferred_from_the_model_id_when_model_info_has_none(model, mode):
    config = inspect(f"model_list:\n  - model_name: m\n    litellm_params:\n      model: {model}\n")
    assert config.deployments[0].mode == mode


def test_model_info_mode_wins_over_the_inferred_one_and_completion_means_chat():
    config = inspect(
        "model_list:\n  - model_name: a\n    litellm_params: {model: bedrock/custom.embedder-v1}\n"
        "    model_info: {mode: embedding}\n"
        "  - model_name: b\n    litellm_params: {model: bedrock/amazon.titan-text-lite-v1}\n"
        "    model_info: {mode: completion}\n"
    )
    assert [d.mode for d in config.deployments] == ["embedding", "chat"]


def test_unset_optional_fields_mean_use_the_defaults():
    [deployment] = inspect(
        "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/a.b}\n"
    ).deployments
    assert deployment.endpoint is None  # the real AWS host
    assert (
        deployment.aws_access_key_id is None and deployment.aws_bearer_token is None
    )  # the credential chain
    assert (deployment.timeout, deployment.max_retries, deployment.weight, deployment.rpm) == (
        None,
        None,
        None,
        None,
    )
    assert deployment.defaults == {}
