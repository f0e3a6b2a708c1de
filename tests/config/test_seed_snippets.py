"""Every YAML block of the seed's README loads and means what the seed says it means."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import ApiKey, load_config_text

from .support import SEED_MODEL_LIST, describe, find, inspect, with_models

ALL_ENV = {
    "LANGFUSE_PUBLIC_KEY": "pk-lf-x",
    "LANGFUSE_SECRET_KEY": "sk-lf-x",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/x",
    "WEBHOOK_URL": "https://example.test/hook",
}

SEED_SNIPPETS = {
    "add a custom model": """
model_list:
  - model_name: mon-modele-custom
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0
      aws_region_name: eu-west-1
      max_tokens: 4096
      temperature: 0.7
    model_info:
      mode: chat
      supports_function_calling: true
""",
    "langfuse callbacks": """
# Dans config.yaml
litellm_settings:
  success_callback: ["langfuse"]
  failure_callback: ["langfuse"]
""",
    "retry and timeout": """
litellm_settings:
  num_retries: 3                    # Nombre de tentatives
  request_timeout: 600              # Timeout en secondes
  retry_after: 10                   # Délai entre retries
  max_parallel_requests: 100        # Requêtes parallèles max
""",
    "rate limiting": """
litellm_settings:
  rpm: 1000                         # Requests per minute
  tpm: 100000                       # Tokens per minute
""",
    "fallbacks": """
litellm_settings:
  fallbacks:
    - model: claude-3-5-sonnet
      fallback: claude-3-haiku      # Fallback si erreur
    - model: claude-3-opus
      fallback: claude-3-sonnet

  context_window_fallbacks:
    - model: claude-3-5-sonnet
      fallback: claude-3-opus       # Fallback si contexte trop long
""",
    "redis caching": """
router_settings:
  redis_host: localhost
  redis_port: 6379
  redis_password: your-password
  cache_responses: true
  cache_kwargs:
    ttl: 3600                       # Cache TTL en secondes
""",
    "routing strategy": """
router_settings:
  routing_strategy: "simple-shuffle"  # Options disponibles
""",
    "logging": """
litellm_settings:
  set_verbose: true                 # Logs détaillés
  json_logs: true                   # Format JSON
  log_raw_request_response: false   # Log requêtes brutes (attention à la taille!)
""",
    "weights and biases": """
# config.yaml
litellm_settings:
  success_callback: ["langfuse", "wandb"]
""",
    "database": """
general_settings:
  database_url: "postgresql://user:pass@host:5432/litellm"
""",
    "alerting": """
litellm_settings:
  alerting: ["slack", "email"]
  alerting_threshold: 5             # Alertes après 5 erreurs
""",
    "api keys": """
general_settings:
  master_key: sk-1234               # Clé principale

  # Support de multiples clés
  api_keys:
    - key: sk-team-a
      spend_limit: 100              # Limite en USD
      models: ["claude-3-5-sonnet", "claude-3-haiku"]

    - key: sk-team-b
      spend_limit: 50
      models: ["titan-text-express"]
""",
    "webhook": """
litellm_settings:
  success_callback: ["webhook"]
""",
    "redis cache for latency": """
router_settings:
  redis_host: localhost
  cache_responses: true
""",
    "rate limiting troubleshooting": """
litellm_settings:
  rpm: 500                          # Réduire les requêtes/minute
  request_timeout: 900              # Augmenter le timeout

  fallbacks:
    - model: claude-3-5-sonnet
      fallback: claude-3-haiku      # Fallback automatique
""",
    "debug mode": """
litellm_settings:
  set_verbose: true
  debug: true
  log_raw_request_response: true
""",
}


def _settings_of(name: str):
    return inspect(SEED_SNIPPETS[name], ALL_ENV, master=True)


@pytest.mark.parametrize("name", list(SEED_SNIPPETS))
def test_every_seed_snippet_loads_without_errors(name):
    config = load_config_text(with_models(SEED_SNIPPETS[name], master=True), dict(ALL_ENV), name)
    assert config.deployments
    assert not config.errors


def test_the_wandb_snippet_turns_on_langfuse_and_weights_and_biases():
    config = _settings_of("weights and biases")
    assert not config.errors
    assert config.settings.success_callbacks == ["langfuse", "wandb"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("langfuse callbacks", {"success_callbacks": ["langfuse"], "failure_callbacks": ["langfuse"]}),
        (
            "retry and timeout",
            {"num_retries": 3, "request_timeout": 600, "retry_after": 10, "max_parallel_requests": 100},
        ),
        ("rate limiting", {"rpm": 1000, "tpm": 100000}),
        (
            "fallbacks",
            {
                "fallbacks": {"claude-3-5-sonnet": ["claude-3-haiku"], "claude-3-opus": ["claude-3-sonnet"]},
                "context_window_fallbacks": {"claude-3-5-sonnet": ["claude-3-opus"]},
            },
        ),
        ("redis caching", {"cache": True, "redis_host": "localhost", "redis_port": 6379}),
        ("routing strategy", {"routing_strategy": "simple-shuffle"}),
        ("logging", {"set_verbose": True, "json_logs": True, "log_raw_request_response": False}),
        ("database", {"database_url": "postgresql://user:pass@host:5432/litellm"}),
        ("alerting", {"alerting": ["slack", "email"], "alerting_threshold": 5}),
        ("webhook", {"success_callbacks": ["webhook"]}),
        ("redis cache for latency", {"cache": True, "redis_host": "localhost"}),
        ("rate limiting troubleshooting", {"rpm": 500, "request_timeout": 900}),
        ("debug mode", {"set_verbose": True, "debug": True, "log_raw_request_response": True}),
    ],
)
def test_seed_snippet_settings_take_the_meaning_the_seed_gives_them(name, expected):
    settings = _settings_of(name).settings
    assert {key: getattr(settings, key) for key in expected} == expected


def test_seed_redis_cache_kwargs_ttl_becomes_the_cache_ttl_on_redis():
    params = _settings_of("redis caching").settings.cache_params
    assert (params.type, params.host, params.port, params.ttl) == ("redis", "localhost", 6379, 3600)
    assert params.password == "your-password"


def test_seed_api_keys_become_typed_keys_with_models_and_spend_limits():
    settings = _settings_of("api keys").settings
    assert settings.master_key == "sk-1234"
    assert settings.api_keys == [
        ApiKey("sk-team-a", ("claude-3-5-sonnet", "claude-3-haiku"), 100.0),
        ApiKey("sk-team-b", ("titan-text-express",), 50.0),
    ]
    assert settings.api_keys[1].allows("titan-text-express") and not settings.api_keys[1].allows(
        "claude-3-haiku"
    )


def test_seed_custom_model_keeps_its_default_params_and_model_info():
    [deployment] = _settings_of("add a custom model").deployments
    assert deployment.model_name == "mon-modele-custom"
    assert deployment.model_id == "anthropic.claude-3-5-sonnet-20241022-v2:0"
    assert deployment.defaults == {"max_tokens": 4096, "temperature": 0.7}
    assert deployment.model_info["supports_function_calling"] is True and deployment.mode == "chat"


@pytest.mark.parametrize(
    ("name", "path", "belongs"),
    [
        ("retry and timeout", "litellm_settings.retry_after", "router_settings.retry_after"),
        (
            "retry and timeout",
            "litellm_settings.max_parallel_requests",
            "general_settings.max_parallel_requests",
        ),
        ("alerting", "litellm_settings.alerting", "general_settings.alerting"),
        ("alerting", "litellm_settings.alerting_threshold", "general_settings.alerting_threshold"),
    ],
)
def test_seed_keys_in_the_wrong_section_are_read_and_reported_with_their_home(name, path, belongs):
    messages = [issue.message for issue in find(_settings_of(name), "warning", path)]
    assert any(message.startswith(f"read as {belongs}") for message in messages), messages


def test_seed_email_alerting_without_a_mail_server_is_a_warning_not_an_error():
    config = _settings_of("alerting")
    messages = [issue.message for issue in find(config, "warning", "litellm_settings.alerting")]
    assert any("email alerting needs ALERT_EMAIL and SMTP_HOST" in message for message in messages), messages
    assert not config.errors


def test_all_seed_snippets_merged_into_one_file_load_with_only_the_expected_warnings():
    text = (
        SEED_MODEL_LIST
        + """
litellm_settings:
  success_callback: ["langfuse", "webhook"]
  failure_callback: ["langfuse"]
  num_retries: 3
  request_timeout: 600
  retry_after: 10
  max_parallel_requests: 100
  rpm: 1000
  tpm: 100000
  fallbacks:
    - model: claude-3-5-sonnet
      fallback: claude-3-haiku
    - model: claude-3-opus
      fallback: claude-3-sonnet
  context_window_fallbacks:
    - model: claude-3-5-sonnet
      fallback: claude-3-opus
  set_verbose: true
  debug: true
  json_logs: true
  log_raw_request_response: false
  alerting: ["slack"]
  alerting_threshold: 5
router_settings:
  routing_strategy: "simple-shuffle"
  redis_host: localhost
  redis_port: 6379
  redis_password: your-password
  cache_responses: true
  cache_kwargs:
    ttl: 3600
general_settings:
  master_key: sk-1234
  database_url: "postgresql://user:pass@host:5432/litellm"
  api_keys:
    - key: sk-team-a
      spend_limit: 100
      models: ["claude-3-5-sonnet", "claude-3-haiku"]
"""
    )
    config = load_config_text(text, dict(ALL_ENV))
    assert {(issue.level, issue.path) for issue in config.issues} == {
        ("warning", "litellm_settings.retry_after"),
        ("warning", "litellm_settings.max_parallel_requests"),
        ("warning", "litellm_settings.alerting"),
        ("warning", "litellm_settings.alerting_threshold"),
    }, describe(config)
    assert len(config.groups()) == 13


def test_pasting_two_seed_snippets_with_the_same_section_is_an_error_naming_both_lines():
    text = SEED_MODEL_LIST + SEED_SNIPPETS["rate limiting"] + SEED_SNIPPETS["debug mode"]
    config = inspect(text)
    [issue] = find(config, "error", "litellm_settings")
    assert "defined twice" in issue.message and "merge" in issue.message
    first = SEED_MODEL_LIST.count("\n") + 2
    assert f"lines {first} and" in issue.message
