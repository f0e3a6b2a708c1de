"""Configs written for LiteLLM itself load with the same meaning, normalised to the same typed objects."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import load_config_text
from bedrock_proxy.config.effects import SETTINGS_WITHOUT_EFFECT

from .support import describe, find, inspect, with_models

ENV = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk", "SLACK_WEBHOOK_URL": "https://x.test/h"}


def load(snippet: str, environ: dict[str, str] | None = None):
    return load_config_text(with_models(snippet, master=True), {**ENV, **(environ or {})})


@pytest.mark.parametrize(
    ("snippet", "attribute", "expected"),
    [
        (
            "litellm_settings:\n  fallbacks: [{claude-3-5-sonnet: [claude-3-haiku, claude-3-sonnet]}]\n",
            "fallbacks",
            {"claude-3-5-sonnet": ["claude-3-haiku", "claude-3-sonnet"]},
        ),
        (
            "litellm_settings:\n  fallbacks:\n    - claude-3-5-sonnet: claude-3-haiku\n"
            "    - model: claude-3-5-sonnet\n      fallback: [claude-3-sonnet, claude-3-haiku]\n",
            "fallbacks",
            {"claude-3-5-sonnet": ["claude-3-haiku", "claude-3-sonnet"]},
        ),
        (
            "router_settings:\n  fallbacks: [{claude-3-opus: [claude-3-sonnet]}]\n",
            "fallbacks",
            {"claude-3-opus": ["claude-3-sonnet"]},
        ),
        (
            "litellm_settings:\n  context_window_fallbacks: [{mistral-large: [claude-3-5-sonnet]}]\n",
            "context_window_fallbacks",
            {"mistral-large": ["claude-3-5-sonnet"]},
        ),
        (
            "litellm_settings:\n  content_policy_fallbacks:\n    - model: claude-3-haiku\n"
            "      fallbacks: [mistral-large]\n",
            "content_policy_fallbacks",
            {"claude-3-haiku": ["mistral-large"]},
        ),
        (
            "litellm_settings:\n  default_fallbacks: [claude-3-haiku]\n",
            "default_fallbacks",
            ["claude-3-haiku"],
        ),
        ("router_settings:\n  default_fallbacks: claude-3-haiku\n", "default_fallbacks", ["claude-3-haiku"]),
        (
            "router_settings:\n  retry_policy:\n    RateLimitErrorRetries: 3\n    TimeoutError: 1\n",
            "retry_policy",
            {"RateLimitError": 3, "TimeoutError": 1},
        ),
        (
            "router_settings:\n  model_group_alias:\n    gpt-4: claude-3-5-sonnet\n"
            "    gpt-3.5-turbo: {model: claude-3-haiku, hidden: true}\n",
            "model_group_alias",
            {"gpt-4": "claude-3-5-sonnet", "gpt-3.5-turbo": "claude-3-haiku"},
        ),
        (
            "router_settings:\n  routing_strategy: usage-based-routing-v2\n",
            "routing_strategy",
            "usage-based-routing",
        ),
        (
            "router_settings:\n  routing_strategy: latency-based-routing\n",
            "routing_strategy",
            "latency-based-routing",
        ),
        ("router_settings:\n  timeout: 30\n  stream_timeout: 10\n", "request_timeout", 30),
        ("router_settings:\n  timeout: 30\n  stream_timeout: 10\n", "stream_timeout", 10),
        ("router_settings:\n  allowed_fails: 1\n  cooldown_time: 60\n", "cooldown_time", 60),
        ("router_settings:\n  enable_pre_call_checks: true\n", "enable_pre_call_checks", True),
        (
            "general_settings:\n  master_key: sk-x\n  global_max_parallel_requests: 50\n",
            "max_parallel_requests",
            50,
        ),
        (
            "general_settings:\n  master_key: sk-x\n  alerting: [slack]\n  alerting_threshold: 300\n",
            "alerting",
            ["slack"],
        ),
        (
            "general_settings:\n  master_key: sk-x\n  background_health_checks: true\n",
            "background_health_checks",
            True,
        ),
        ("general_settings:\n  master_key: sk-x\n  health_check_interval: 60\n", "health_check_interval", 60),
        ("general_settings:\n  master_key: sk-x\n  disable_spend_logs: true\n", "disable_spend_logs", True),
        ("litellm_settings:\n  callbacks: [prometheus, otel]\n", "callbacks", ["prometheus", "otel"]),
        ("litellm_settings:\n  success_callback: langfuse\n", "success_callbacks", ["langfuse"]),
        (
            "litellm_settings:\n  success_callback: [Langfuse_OTEL, traceloop]\n",
            "success_callbacks",
            ["langfuse_otel", "traceloop"],
        ),
        ("litellm_settings:\n  turn_off_message_logging: true\n", "turn_off_message_logging", True),
        ("litellm_settings:\n  redact_user_api_key_info: true\n", "redact_user_api_key_info", True),
        ("litellm_settings:\n  drop_params: true\n", "drop_params", True),
        ("litellm_settings:\n  max_budget: 12.5\n", "max_budget", 12.5),
    ],
)
def test_litellm_setting_shapes_are_read_into_typed_settings(snippet, attribute, expected):
    config = load(snippet)
    assert getattr(config.settings, attribute) == expected
    # a key read but not acted on yet is reported as such (config/effects.py), and nothing else is
    unexpected = [
        issue
        for issue in config.warnings
        if not (attribute in SETTINGS_WITHOUT_EFFECT and "has no effect yet" in issue.message)
    ]
    assert not unexpected, describe(config)


def test_litellm_cache_params_with_redis_become_the_cache_settings():
    settings = load(
        "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    host: redis.internal\n"
        "    port: 6380\n    password: pw\n    ttl: 60\n    namespace: proxy\n"
    ).settings
    params = settings.cache_params
    assert settings.cache is True
    assert (params.type, params.host, params.port, params.password, params.ttl, params.namespace) == (
        "redis",
        "redis.internal",
        6380,
        "pw",
        60,
        "proxy",
    )
    assert (settings.redis_host, settings.redis_port) == ("redis.internal", 6380)


def test_local_cache_is_the_default_when_no_redis_is_configured():
    settings = load("litellm_settings:\n  cache: true\n").settings
    assert settings.cache and settings.cache_params.type == "local"


@pytest.mark.parametrize(
    ("model", "model_id", "api"),
    [
        ("bedrock/anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0", "auto"),
        (
            "bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "converse",
        ),
        ("bedrock/invoke/amazon.titan-text-lite-v1", "amazon.titan-text-lite-v1", "invoke"),
        (
            "bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "auto",
        ),
        (
            "bedrock/arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta.llama3-2-3b-instruct-v1:0",
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta.llama3-2-3b-instruct-v1:0",
            "auto",
        ),
    ],
)
def test_bedrock_route_prefixes_are_stripped_and_select_the_api(model, model_id, api):
    config = load(f"model_list:\n  - model_name: m\n    litellm_params:\n      model: {model}\n")
    [deployment] = config.deployments
    assert (deployment.model_id, deployment.api) == (model_id, api)


def test_custom_llm_provider_bedrock_accepts_a_bare_model_id():
    config = load(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: amazon.titan-text-lite-v1\n"
        "      custom_llm_provider: bedrock\n"
    )
    assert config.deployments[0].model_id == "amazon.titan-text-lite-v1"


def test_several_deployments_per_model_name_form_one_group_in_file_order():
    config = load(
        """
model_list:
  - model_name: claude
    litellm_params: {model: "bedrock/anthropic.claude-3-haiku-20240307-v1:0", rpm: 100}
  - model_name: titan
    litellm_params: {model: bedrock/amazon.titan-text-lite-v1}
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-central-1
      weight: 2
  - model_name: claude
    litellm_params: {model: bedrock/eu.anthropic.claude-3-haiku-20240307-v1:0, id: claude-eu-profile}
  - model_name: titan
    litellm_params: {model: bedrock/amazon.titan-text-lite-v1}
    model_info: {id: titan-second}
"""
    )
    groups = config.groups()
    assert config.model_names() == ["claude", "titan"]
    assert [d.deployment_id for d in groups["claude"]] == ["claude#0", "claude#1", "claude-eu-profile"]
    assert [d.deployment_id for d in groups["titan"]] == ["titan#0", "titan-second"]
    assert [d.region for d in groups["claude"]] == ["eu-west-1", "eu-central-1", "eu-west-1"]
    assert (groups["claude"][0].rpm, groups["claude"][1].weight) == (100, 2)
    assert config.deployment("claude-eu-profile") is groups["claude"][2]


def test_litellm_api_key_param_is_the_bedrock_bearer_token():
    config = load(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/x.y\n      api_key: tok\n"
    )
    assert config.deployments[0].aws_bearer_token == "tok"


def test_router_settings_win_over_litellm_settings_and_the_loser_is_reported():
    config = load("litellm_settings:\n  num_retries: 3\nrouter_settings:\n  num_retries: 5\n")
    assert config.settings.num_retries == 5
    [issue] = find(config, "warning", "litellm_settings.num_retries")
    assert "router_settings.num_retries" in issue.message


def test_the_same_value_in_two_sections_is_not_reported():
    config = load("litellm_settings:\n  num_retries: 3\nrouter_settings:\n  num_retries: 3\n")
    assert not config.warnings


def test_fallbacks_written_with_an_alias_are_normalised_to_the_real_model_name():
    settings = load(
        "router_settings:\n  model_group_alias: {gpt-4: claude-3-5-sonnet, gpt-3.5-turbo: claude-3-haiku}\n"
        "litellm_settings:\n  fallbacks: [{gpt-4: [gpt-3.5-turbo]}]\n"
    ).settings
    assert settings.fallbacks == {"claude-3-5-sonnet": ["claude-3-haiku"]}
    assert settings.fallbacks_for("claude-3-5-sonnet") == ["claude-3-haiku"]


def test_default_fallbacks_apply_to_models_without_their_own():
    settings = load(
        "litellm_settings:\n  default_fallbacks: [claude-3-haiku]\n"
        "  fallbacks: [{claude-3-opus: [claude-3-sonnet]}]\n"
    ).settings
    assert settings.fallbacks_for("claude-3-opus") == ["claude-3-sonnet"]
    assert settings.fallbacks_for("mistral-7b") == ["claude-3-haiku"]
    assert settings.fallbacks_for("mistral-7b", "context_window_fallbacks") == []


def test_callbacks_named_in_several_lists_are_listed_once():
    settings = load(
        "litellm_settings:\n  success_callback: [langfuse]\n  failure_callback: [langfuse]\n"
        "  callbacks: [prometheus]\n"
    ).settings
    assert settings.all_callbacks == ["prometheus", "langfuse"]


def test_yaml_anchors_and_merge_keys_are_understood():
    config = load(
        """
model_list:
  - model_name: a
    litellm_params: &common
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      max_tokens: 512
  - model_name: b
    litellm_params:
      <<: *common
      aws_region_name: eu-central-1
"""
    )
    assert [(d.model_name, d.region, d.defaults["max_tokens"]) for d in config.deployments] == [
        ("a", "eu-west-1", 512),
        ("b", "eu-central-1", 512),
    ]


def test_a_cost_written_as_3e_06_without_a_dot_is_a_number():
    config = load(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/x.y\n"
        "      input_cost_per_token: 3e-06\n      output_cost_per_token: 1.5e-05\n"
    )
    deployment = config.deployments[0]
    assert (deployment.input_cost_per_token, deployment.output_cost_per_token) == (3e-06, 1.5e-05)
    assert deployment.public_params()["input_cost_per_token"] == 3e-06


def test_model_info_costs_are_used_when_litellm_params_have_none():
    config = inspect(
        "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/x.y}\n"
        "    model_info: {input_cost_per_token: 1.0e-6, base_model: anthropic.claude-3-haiku-20240307-v1:0}\n"
    )
    assert config.deployments[0].input_cost_per_token == 1e-6
    assert config.deployments[0].model_info["base_model"] == "anthropic.claude-3-haiku-20240307-v1:0"
