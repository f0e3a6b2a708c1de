"""Each mistake is reported at the key that caused it, with a message that says what to change."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import ConfigError, inspect_text, load_config_text

from .support import describe, find, inspect, with_models

ENV = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"}
ONE_MODEL = (
    "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.titan-text-lite-v1\n"
)

ERRORS = [
    # (case, yaml, path, words the message must contain)
    (
        "non-Bedrock model",
        "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: azure/gpt-4\n",
        "model_list[0].litellm_params.model",
        ["only Bedrock", "bedrock/"],
    ),
    (
        "Bedrock id without prefix",
        "model_list:\n  - model_name: h\n    litellm_params:\n"
        "      model: anthropic.claude-3-haiku-20240307-v1:0\n",
        "model_list[0].litellm_params.model",
        ["bedrock/anthropic.claude-3-haiku-20240307-v1:0"],
    ),
    (
        "other provider",
        "model_list:\n  - model_name: h\n    litellm_params:\n      model: gpt-4\n"
        "      custom_llm_provider: openai\n",
        "model_list[0].litellm_params.custom_llm_provider",
        ["only Bedrock"],
    ),
    (
        "model missing",
        "model_list:\n  - model_name: h\n    litellm_params:\n      aws_region_name: eu-west-1\n",
        "model_list[0].litellm_params",
        ["has no model"],
    ),
    (
        "model_name missing",
        "model_list:\n  - litellm_params:\n      model: bedrock/a.b\n",
        "model_list[0]",
        ["model_name"],
    ),
    ("no model_list", "litellm_settings:\n  num_retries: 1\n", "model_list", ["missing"]),
    ("empty model_list", "model_list: []\n", "model_list", ["empty"]),
    (
        "wrong type",
        "litellm_settings:\n  num_retries: three\n",
        "litellm_settings.num_retries",
        ["whole number", "'three'"],
    ),
    (
        "bool where a number goes",
        "router_settings:\n  cooldown_time: true\n",
        "router_settings.cooldown_time",
        ["number"],
    ),
    (
        "word where a bool goes",
        "litellm_settings:\n  drop_params: sometimes\n",
        "litellm_settings.drop_params",
        ["true or false"],
    ),
    (
        "negative request timeout",
        "litellm_settings:\n  request_timeout: -1\n",
        "litellm_settings.request_timeout",
        ["greater than 0", "-1"],
    ),
    (
        "zero router timeout",
        "router_settings:\n  timeout: 0\n",
        "router_settings.timeout",
        ["greater than 0"],
    ),
    (
        "negative deployment timeout",
        ONE_MODEL + "      timeout: -5\n",
        "model_list[0].litellm_params.timeout",
        ["greater than 0"],
    ),
    ("negative rpm", ONE_MODEL + "      rpm: -1\n", "model_list[0].litellm_params.rpm", ["at least 0"]),
    (
        "temperature out of range",
        ONE_MODEL + "      temperature: 3\n",
        "model_list[0].litellm_params.temperature",
        ["at most 2"],
    ),
    (
        "stop of the wrong type",
        ONE_MODEL + "      stop: {a: 1}\n",
        "model_list[0].litellm_params.stop",
        ["list of strings"],
    ),
    (
        "access key without secret",
        ONE_MODEL + "      aws_access_key_id: AKIA1\n",
        "model_list[0].litellm_params.aws_secret_access_key",
        ["go together"],
    ),
    (
        "bad region",
        ONE_MODEL + "      aws_region_name: eu-west\n",
        "model_list[0].litellm_params.aws_region_name",
        ["eu-west-1"],
    ),
    (
        "endpoint not a URL",
        ONE_MODEL + "      aws_bedrock_runtime_endpoint: localhost:4010\n",
        "model_list[0].litellm_params.aws_bedrock_runtime_endpoint",
        ["http://"],
    ),
    (
        "unserved mode",
        ONE_MODEL + "    model_info:\n      mode: image_generation\n",
        "model_list[0].model_info.mode",
        ["chat, embedding"],
    ),
    (
        "one name, two kinds",
        "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/amazon.titan-text-lite-v1}\n"
        "  - model_name: m\n    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0}\n",
        "model_list[1].model_info.mode",
        ["chat", "embedding"],
    ),
    (
        "duplicate deployment id",
        "model_list:\n  - model_name: a\n    litellm_params: {model: bedrock/a.b, id: x}\n"
        "  - model_name: b\n    litellm_params: {model: bedrock/a.b, id: x}\n",
        "model_list[1]",
        ["'x'", "unique"],
    ),
    (
        "unknown routing strategy",
        "router_settings:\n  routing_strategy: round-robin\n",
        "router_settings.routing_strategy",
        [
            "round-robin",
            "simple-shuffle, least-busy, usage-based-routing, latency-based-routing, cost-based-routing",
        ],
    ),
    (
        "routing strategy typo",
        "router_settings:\n  routing_strategy: least_busy\n",
        "router_settings.routing_strategy",
        ["did you mean 'least-busy'"],
    ),
    (
        "unknown callback",
        "litellm_settings:\n  success_callback: [langfuze]\n",
        "litellm_settings.success_callback[0]",
        ["did you mean 'langfuse'", "langfuse, langfuse_otel, otel, traceloop, webhook, prometheus"],
    ),
    (
        "custom python callback",
        "litellm_settings:\n  callbacks: custom_callbacks.proxy_handler_instance\n",
        "litellm_settings.callbacks",
        ["custom Python"],
    ),
    (
        "fallback to a missing model, seed shape",
        "litellm_settings:\n  fallbacks:\n    - model: claude-3-5-sonnet\n"
        "      fallback: claude-3-haiku-v2\n",
        "litellm_settings.fallbacks[0].fallback",
        ["claude-3-haiku-v2", "not a model_name", "did you mean 'claude-3-haiku'"],
    ),
    (
        "fallback from a missing model, LiteLLM shape",
        "router_settings:\n  fallbacks: [{gpt-4: [claude-3-haiku]}]\n",
        "router_settings.fallbacks[0].gpt-4",
        ["'gpt-4'", "not a model_name"],
    ),
    (
        "default fallback missing",
        "litellm_settings:\n  default_fallbacks: [nope]\n",
        "litellm_settings.default_fallbacks[0]",
        ["'nope'"],
    ),
    (
        "seed fallback without target",
        "litellm_settings:\n  fallbacks:\n    - model: claude-3-opus\n",
        "litellm_settings.fallbacks[0]",
        ["fallback:"],
    ),
    (
        "fallback list of strings",
        "litellm_settings:\n  fallbacks: [claude-3-haiku]\n",
        "litellm_settings.fallbacks[0]",
        ["{model: X, fallback: Y}", "{X: [Y, Z]}"],
    ),
    (
        "fallback chat to embedding",
        "litellm_settings:\n  fallbacks: [{claude-3-haiku: [titan-embed-text]}]\n",
        "litellm_settings.fallbacks[0].claude-3-haiku[0]",
        ["chat", "embedding"],
    ),
    (
        "alias to a missing model",
        "router_settings:\n  model_group_alias: {gpt-4: claude-4}\n",
        "router_settings.model_group_alias.gpt-4",
        ["'claude-4'"],
    ),
    (
        "duplicate api key",
        "general_settings:\n  api_keys:\n    - key: sk-a\n    - key: sk-a\n",
        "general_settings.api_keys[1].key",
        ["duplicate", "api_keys[0].key"],
    ),
    (
        "api key equal to the master key",
        "general_settings:\n  master_key: sk-a\n  api_keys:\n    - key: sk-a\n",
        "general_settings.api_keys[0].key",
        ["master key"],
    ),
    (
        "api key model missing",
        "general_settings:\n  api_keys:\n    - key: sk-a\n      models: [claude-3-haiku, gpt-4o]\n",
        "general_settings.api_keys[0].models[1]",
        ["'gpt-4o'", "not a model_name"],
    ),
    (
        "api key without key",
        "general_settings:\n  api_keys:\n    - models: [claude-3-haiku]\n",
        "general_settings.api_keys[0]",
        ["key"],
    ),
    (
        "unset environment variable",
        "general_settings:\n  master_key: os.environ/MY_KEY\n",
        "general_settings.master_key",
        ["MY_KEY", "not set"],
    ),
    (
        "unset environment variable in a model",
        ONE_MODEL + "      aws_secret_access_key: os.environ/AWS_SK\n      aws_access_key_id: A\n",
        "model_list[0].litellm_params.aws_secret_access_key",
        ["AWS_SK"],
    ),
    (
        "empty master key",
        'general_settings:\n  master_key: ""\n',
        "general_settings.master_key",
        ["is empty", "LITELLM_MASTER_KEY=sk-", 'echo "sk-$(openssl rand -hex 16)"'],
    ),
    (
        "empty os.environ reference",
        "general_settings:\n  master_key: os.environ/\n",
        "general_settings.master_key",
        ["names no variable"],
    ),
    (
        "retry policy unknown error",
        "router_settings:\n  retry_policy: {RateLimitErorRetries: 2}\n",
        "router_settings.retry_policy.RateLimitErorRetries",
        ["did you mean 'RateLimitErrorRetries'"],
    ),
    (
        "unsupported cache type",
        "litellm_settings:\n  cache: true\n  cache_params: {type: s3}\n",
        "litellm_settings.cache_params.type",
        ["local, redis"],
    ),
    (
        "redis cache without host",
        "litellm_settings:\n  cache: true\n  cache_params: {type: redis}\n",
        "litellm_settings.cache",
        ["redis_host", "REDIS_HOST"],
    ),
    (
        "redis port out of range",
        "router_settings:\n  redis_port: 70000\n",
        "router_settings.redis_port",
        ["65535"],
    ),
    (
        "MySQL URL without a database",
        "general_settings:\n  database_url: mysql://u:p@h:3306\n",
        "general_settings.database_url",
        ["names no MySQL database", "mysql://user:pass@host:3306/db"],
    ),
    (
        "unsupported database",
        "general_settings:\n  database_url: mssql://u:p@h/db\n",
        "general_settings.database_url",
        ["'mssql'", "postgresql://", "mysql://"],
    ),
    ("LiteLLM include", "include: [models.yaml]\n", "include", ["copy"]),
    ("invalid YAML", "litellm_settings:\n  fallbacks: [a, b\n", "<yaml>", ["not valid YAML"]),
    ("a list instead of a mapping", "- a\n- b\n", "<file>", ["mapping of sections"]),
    (
        "bad environment variable name",
        "environment_variables:\n  BAD-NAME: x\n",
        "environment_variables.BAD-NAME",
        ["letters"],
    ),
]

WITHOUT_MODELS = {"no model_list", "a list instead of a mapping"}

WARNINGS = [
    (
        "retry_after under litellm_settings",
        "litellm_settings:\n  retry_after: 10\n",
        "litellm_settings.retry_after",
        ["read as router_settings.retry_after"],
    ),
    (
        "max_parallel_requests under litellm_settings",
        "litellm_settings:\n  max_parallel_requests: 10\n",
        "litellm_settings.max_parallel_requests",
        ["read as general_settings.max_parallel_requests"],
    ),
    (
        "master_key under litellm_settings",
        "litellm_settings:\n  master_key: sk-1\n",
        "litellm_settings.master_key",
        ["read as general_settings.master_key"],
    ),
    (
        "routing_strategy under general_settings",
        "general_settings:\n  routing_strategy: least-busy\n",
        "general_settings.routing_strategy",
        ["read as router_settings.routing_strategy"],
    ),
    (
        "unknown key with a close match",
        "litellm_settings:\n  num_retrys: 2\n",
        "litellm_settings.num_retrys",
        ["unknown key in litellm_settings", "did you mean 'num_retries'"],
    ),
    (
        "unknown key close to another section's key",
        "litellm_settings:\n  routing_stratgy: x\n",
        "litellm_settings.routing_stratgy",
        ["did you mean router_settings.routing_strategy"],
    ),
    (
        "unknown key far from everything",
        "general_settings:\n  zzz_flag: 1\n",
        "general_settings.zzz_flag",
        ["unknown key in general_settings"],
    ),
    (
        "unknown section",
        "router_setting:\n  num_retries: 1\n",
        "router_setting",
        ["did you mean 'router_settings'"],
    ),
    ("unsupported LiteLLM section", "guardrails: []\n", "guardrails", ["not supported"]),
    (
        "per-model key in settings",
        "litellm_settings:\n  temperature: 0.2\n",
        "litellm_settings.temperature",
        ["per-model", "litellm_params"],
    ),
    (
        "litellm_params typo",
        ONE_MODEL + "      temprature: 0.2\n",
        "model_list[0].litellm_params.temprature",
        ["did you mean 'temperature'"],
    ),
    (
        "model_info key in litellm_params",
        ONE_MODEL + "      mode: chat\n",
        "model_list[0].litellm_params.mode",
        ["model_info.mode"],
    ),
    (
        "litellm_params key beside model_name",
        "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/a.b}\n    rpm: 5\n",
        "model_list[0].rpm",
        ["litellm_params.rpm"],
    ),
    (
        "model_info typo",
        ONE_MODEL + "    model_info:\n      supports_funtion_calling: true\n",
        "model_list[0].model_info.supports_funtion_calling",
        ["did you mean 'supports_function_calling'"],
    ),
    (
        "api_base and endpoint disagree",
        ONE_MODEL + "      api_base: http://a.test\n      aws_bedrock_runtime_endpoint: http://b.test\n",
        "model_list[0].litellm_params.api_base",
        ["aws_bedrock_runtime_endpoint"],
    ),
    (
        "cost per million written as per token",
        ONE_MODEL + "      input_cost_per_token: 3\n",
        "model_list[0].litellm_params.input_cost_per_token",
        ["3e-06"],
    ),
    (
        "EU profile called from a US region",
        "model_list:\n  - model_name: m\n    litellm_params:\n"
        "      model: bedrock/eu.anthropic.claude-3-haiku-20240307-v1:0\n      aws_region_name: us-east-1\n",
        "model_list[0].litellm_params.model",
        ["eu-", "aws_region_name"],
    ),
    (
        "email alerting without its mail server",
        "general_settings:\n  alerting: [email]\n",
        "general_settings.alerting",
        ["email", "ALERT_EMAIL", "SMTP_HOST", "only be logged"],
    ),
    (
        "slack without its webhook",
        "general_settings:\n  alerting: [slack]\n",
        "general_settings.alerting",
        ["SLACK_WEBHOOK_URL"],
    ),
    (
        "unknown alerting channel",
        "general_settings:\n  alerting: [pager]\n",
        "general_settings.alerting[0]",
        ["slack, webhook"],
    ),
    (
        "fallback to itself",
        "litellm_settings:\n  fallbacks: [{claude-3-haiku: [claude-3-haiku]}]\n",
        "litellm_settings.fallbacks[0].claude-3-haiku[0]",
        ["itself"],
    ),
    (
        "cache settings without cache",
        "router_settings:\n  cache_kwargs: {ttl: 60}\n",
        "router_settings.cache_kwargs",
        ["cache: true"],
    ),
    (
        "unknown cache setting",
        "litellm_settings:\n  cache: true\n  cache_params: {tll: 60}\n",
        "litellm_settings.cache_params.tll",
        ["did you mean 'ttl'"],
    ),
    (
        "unknown api key setting",
        "general_settings:\n  api_keys:\n    - key: sk-a\n      spend_limt: 5\n",
        "general_settings.api_keys[0].spend_limt",
        ["did you mean 'spend_limit'"],
    ),
    (
        "alias shadows a model",
        "router_settings:\n  model_group_alias: {claude-3-haiku: claude-3-sonnet}\n",
        "router_settings.model_group_alias.claude-3-haiku",
        ["never used"],
    ),
    ("no master key", "litellm_settings: {}\n", "general_settings.master_key", ["without authentication"]),
    (
        "context-window fallback to a smaller window",
        "litellm_settings:\n  context_window_fallbacks:\n    - model: claude-3-haiku\n"
        "      fallback: mistral-large\n",
        "litellm_settings.context_window_fallbacks[0].fallback",
        ["'mistral-large' (32000 tokens)", "'claude-3-haiku' (200000 tokens)", "smaller context window"],
    ),
]


@pytest.mark.parametrize(("case", "text", "path", "words"), ERRORS, ids=[case[0] for case in ERRORS])
def test_each_error_is_reported_at_its_path_and_stops_the_load(case, text, path, words):
    config = inspect_text(text, dict(ENV)) if case in WITHOUT_MODELS else inspect(text, ENV)
    issues = find(config, "error", path)
    assert issues, f"no error at {path}:\n{describe(config)}"
    assert all(word in issues[0].message for word in words), issues[0].message
    with pytest.raises(ConfigError) as raised:
        load_config_text(text if case in WITHOUT_MODELS else with_models(text), dict(ENV))
    assert any(issue.path == path for issue in raised.value.issues)


@pytest.mark.parametrize(("case", "text", "path", "words"), WARNINGS, ids=[case[0] for case in WARNINGS])
def test_each_warning_is_reported_at_its_path_and_the_config_still_loads(case, text, path, words):
    master = case != "no master key"
    config = load_config_text(with_models(text, master=master), {})
    issues = find(config, "warning", path)
    assert issues, f"no warning at {path}:\n{describe(config)}"
    assert all(word in issues[0].message for word in words), issues[0].message


@pytest.mark.parametrize(
    ("master_key", "environ"),
    [('""', {}), ("os.environ/MY_KEY", {"MY_KEY": " "}), ("[sk-a, sk-b]", {})],
    ids=["empty", "empty variable", "not text"],
)
def test_a_rejected_master_key_is_not_also_reported_as_accepting_every_request(master_key, environ):
    config = inspect(f"general_settings:\n  master_key: {master_key}\n", {**ENV, **environ})
    assert [issue.path for issue in config.errors] == ["general_settings.master_key"]
    assert "without authentication" not in describe(config)


def test_an_empty_master_key_variable_is_named_with_the_way_to_fill_it():
    config = inspect("general_settings:\n  master_key: os.environ/MY_KEY\n", {**ENV, "MY_KEY": ""})
    [error] = config.errors
    assert error.message.startswith("MY_KEY is set but empty (read here as os.environ/MY_KEY)")
    assert "MY_KEY=sk-" in error.message and "openssl rand -hex 16" in error.message


def test_an_unset_variable_is_reported_once_and_not_again_as_a_missing_value():
    config = inspect(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: os.environ/MODEL_ID\n"
    )
    assert [(issue.level, issue.path) for issue in config.errors] == [
        ("error", "model_list[0].litellm_params.model")
    ]
    assert "MODEL_ID" in config.errors[0].message


def test_a_fallback_to_a_model_whose_entry_is_broken_is_not_reported_twice():
    config = inspect(
        "model_list:\n  - model_name: a\n    litellm_params: {model: bedrock/a.b}\n"
        "  - model_name: b\n    litellm_params: {model: openai/gpt-4}\n"
        "litellm_settings:\n  fallbacks: [{a: [b]}]\n"
    )
    assert [issue.path for issue in config.errors] == ["model_list[1].litellm_params.model"]


def test_issues_carry_the_yaml_line_of_the_key():
    config = inspect(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/a.b\n      rpm: -3\n"
    )
    [issue] = find(config, "error", "model_list[0].litellm_params.rpm")
    assert issue.line == 5
    assert str(issue).startswith("error   model_list[0].litellm_params.rpm (line 5): ")


def test_every_issue_is_reported_at_once_not_only_the_first():
    config = inspect(
        "litellm_settings:\n  num_retries: x\n  request_timeout: -1\n  success_callback: [langsmith]\n"
        "router_settings:\n  routing_strategy: fastest\n"
    )
    assert {issue.path for issue in config.errors} == {
        "litellm_settings.num_retries",
        "litellm_settings.request_timeout",
        "litellm_settings.success_callback[0]",
        "router_settings.routing_strategy",
    }


def test_config_error_message_lists_every_error_with_its_path():
    with pytest.raises(ConfigError) as raised:
        load_config_text(with_models("litellm_settings:\n  num_retries: x\n  request_timeout: -1\n"), {})
    text = str(raised.value)
    assert "2 configuration error(s)" in text
    assert "litellm_settings.num_retries" in text and "litellm_settings.request_timeout" in text


@pytest.mark.parametrize("callback", ["langsmith", "datadog", "sentry", "s3"])
def test_callbacks_this_gateway_does_not_provide_are_errors_that_say_so(callback):
    config = inspect(f"litellm_settings:\n  success_callback: [langfuse, {callback}]\n", ENV)
    [issue] = find(config, "error", "litellm_settings.success_callback[1]")
    assert f"'{callback}' is a LiteLLM integration this gateway does not provide" in issue.message


@pytest.mark.parametrize(
    "callback", ["langfuse", "wandb", "lunary", "helicone", "traceloop", "promptlayer", "prometheus"]
)
def test_every_callback_the_seed_names_is_accepted(callback):
    config = inspect(
        f"litellm_settings:\n  success_callback: [{callback}]\n  failure_callback: [{callback}]\n", ENV
    )
    assert not [issue for issue in config.errors if "callback" in issue.path]
    assert config.settings.success_callbacks == [callback]
    assert config.settings.failure_callbacks == [callback]


def _window_warnings(config) -> list[str]:
    return [issue.message for issue in config.warnings if "context window" in issue.message]


@pytest.mark.parametrize(
    "table",
    [
        "context_window_fallbacks: [{titan-text-express: [claude-3-haiku, titan-text-lite]}]",
        "context_window_fallbacks:\n    - model: titan-text-express\n      fallback: [titan-text-lite]",
    ],
    ids=["litellm-shape", "seed-shape"],
)
def test_a_smaller_context_window_fallback_names_both_models_and_windows(table):
    config = load_config_text(with_models(f"litellm_settings:\n  {table}\n", master=True), {})
    [message] = _window_warnings(config)
    assert "'titan-text-lite' (4096 tokens)" in message and "'titan-text-express' (8192 tokens)" in message


@pytest.mark.parametrize(
    "table",
    [
        "context_window_fallbacks: [{mistral-large: [claude-3-5-sonnet]}]",  # a larger window: what it is for
        "fallbacks: [{claude-3-haiku: [titan-text-lite]}]",  # plain fallbacks are not about length
    ],
    ids=["larger-window", "plain-fallback"],
)
def test_fallbacks_that_can_hold_the_prompt_or_are_not_about_length_are_not_reported(table):
    config = load_config_text(with_models(f"litellm_settings:\n  {table}\n", master=True), {})
    assert _window_warnings(config) == [], describe(config)


def test_a_declared_max_input_tokens_is_the_window_that_is_compared():
    config = load_config_text(
        "model_list:\n"
        "  - model_name: long\n    litellm_params: {model: bedrock/amazon.titan-text-lite-v1}\n"
        "    model_info: {max_input_tokens: 100000}\n"
        "  - model_name: short\n    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0}\n"
        "    model_info: {max_input_tokens: 50000}\n"
        "litellm_settings:\n  context_window_fallbacks: [{long: [short]}]\n" + "\n" + "general_settings:\n"
        "  master_key: sk-1234\n",
        {},
    )
    [message] = _window_warnings(config)
    assert "'short' (50000 tokens)" in message and "'long' (100000 tokens)" in message
