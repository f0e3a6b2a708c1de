"""os.environ/VAR references, environment_variables, and settings that fall back to the environment."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import ConfigError, load_config, load_config_text

from .support import find, inspect, with_models

MODEL = (
    "model_list:\n  - model_name: m\n    litellm_params:\n      model: os.environ/MODEL\n"
    "      aws_region_name: os.environ/REGION\n      aws_access_key_id: os.environ/AK\n"
    "      aws_secret_access_key: os.environ/SK\n      rpm: os.environ/RPM\n      stop: [os.environ/STOP]\n"
)
MODEL_ENV = {
    "MODEL": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
    "REGION": "eu-central-1",
    "AK": "AKIAEXAMPLE",
    "SK": "secret-value",
    "RPM": "120",
    "STOP": "END",
    "LITELLM_MASTER_KEY": "sk-env",
}


def test_environment_references_resolve_anywhere_in_a_model_entry():
    [deployment] = load_config_text(MODEL, dict(MODEL_ENV)).deployments
    assert deployment.model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert deployment.region == "eu-central-1"
    assert (deployment.aws_access_key_id, deployment.aws_secret_access_key) == ("AKIAEXAMPLE", "secret-value")
    assert deployment.rpm == 120  # a string from the environment, read as the number it is
    assert deployment.defaults["stop"] == ["END"]


def test_environment_references_resolve_in_settings_with_their_types():
    config = load_config_text(
        with_models(
            "litellm_settings:\n  num_retries: os.environ/RETRIES\n  drop_params: os.environ/DROP\n"
            "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n"
            "router_settings:\n  redis_host: os.environ/REDIS_HOST\n  redis_port: os.environ/REDIS_PORT\n"
        ),
        {
            "RETRIES": "4",
            "DROP": "true",
            "LITELLM_MASTER_KEY": "sk-from-env",
            "REDIS_HOST": "r",
            "REDIS_PORT": "6380",
        },
    )
    settings = config.settings
    assert (settings.num_retries, settings.drop_params, settings.master_key) == (4, True, "sk-from-env")
    assert (settings.redis_host, settings.redis_port) == ("r", 6380)


@pytest.mark.parametrize("missing", ["MODEL", "REGION", "AK", "SK", "RPM", "STOP"])
def test_each_unset_variable_is_an_error_naming_it_and_where_it_is_used(missing):
    environ = {name: value for name, value in MODEL_ENV.items() if name != missing}
    with pytest.raises(ConfigError) as raised:
        load_config_text(MODEL, environ)
    errors = [issue for issue in raised.value.issues if issue.level == "error"]
    assert len(errors) == 1
    assert f"environment variable {missing} is not set" in errors[0].message
    assert errors[0].path.startswith("model_list[0].litellm_params.")


def test_environment_variables_section_is_exported_without_overriding_the_real_environment():
    environ = {"ALREADY": "from-shell"}
    text = with_models(
        "environment_variables:\n  LANGFUSE_HOST: http://langfuse:3000\n  ALREADY: from-file\n"
        "  PORT_NUMBER: 4002\n  FILE_KEY: sk-file\n"
        "general_settings:\n  master_key: os.environ/FILE_KEY\n"
    )
    config = load_config_text(text, environ)
    assert environ == {
        "ALREADY": "from-shell",
        "LANGFUSE_HOST": "http://langfuse:3000",
        "PORT_NUMBER": "4002",
        "FILE_KEY": "sk-file",
    }
    assert config.settings.master_key == "sk-file"  # references see the section's own values
    [issue] = find(config, "warning", "environment_variables.ALREADY")
    assert "already set" in issue.message and "from-shell" not in issue.message


def test_a_config_with_errors_exports_nothing():
    environ: dict[str, str] = {}
    with pytest.raises(ConfigError):
        load_config_text(
            with_models("environment_variables:\n  A: b\nrouter_settings:\n  timeout: -1\n"), environ
        )
    assert environ == {}


def test_master_key_falls_back_to_litellm_master_key():
    config = load_config_text(with_models(""), {"LITELLM_MASTER_KEY": "sk-env"})
    assert config.settings.master_key == "sk-env"
    assert not config.issues


def test_region_and_endpoint_fall_back_to_the_aws_environment():
    config = load_config_text(
        "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/a.b\n"
        "  - model_name: n\n    litellm_params:\n      model: bedrock/a.b\n      aws_region_name: eu-west-3\n"
        "      aws_bedrock_runtime_endpoint: http://own.test:1/\n",
        {
            "AWS_REGION": "eu-central-1",
            "AWS_BEDROCK_RUNTIME_ENDPOINT": "http://127.0.0.1:4010",
            "LITELLM_MASTER_KEY": "k",
        },
    )
    first, second = config.deployments
    assert (first.region, first.endpoint) == ("eu-central-1", "http://127.0.0.1:4010")
    assert (second.region, second.endpoint) == ("eu-west-3", "http://own.test:1")


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-3"}, "eu-west-3"),
        ({"AWS_REGION": "us-east-1"}, "us-east-1"),
    ],
)
def test_region_defaults_to_eu_west_1(environ, region):
    config = inspect("model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/a.b}\n", environ)
    assert config.deployments[0].region == region


def test_a_bad_region_in_the_environment_is_reported_as_coming_from_it():
    config = inspect(
        "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/a.b}\n",
        {"AWS_REGION": "ireland"},
    )
    assert find(config, "error", "AWS_REGION (environment)")


def test_database_url_falls_back_to_database_url_variable():
    config = load_config_text(with_models("", master=True), {"DATABASE_URL": "postgresql://u:p@db/x"})
    assert config.settings.database_url == "postgresql://u:p@db/x"


def test_load_config_reads_a_file_and_reports_a_missing_one(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(with_models("", master=True))
    assert len(load_config(path, {}).deployments) == 13
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "absent.yaml", {})
    assert raised.value.issues[0].path == "<file>" and "cannot read" in raised.value.issues[0].message


def test_budgets_with_a_postgresql_database_load_without_a_warning() -> None:
    from bedrock_proxy.config import inspect_text

    text = """
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
general_settings:
  master_key: sk-1234
  database_url: postgresql://user:pass@db:5432/litellm
  api_keys:
    - key: sk-team-a
      spend_limit: 100
"""
    config = inspect_text(text, {})
    assert config.settings.database_url == "postgresql://user:pass@db:5432/litellm"
    assert not [issue for issue in config.issues if "database_url" in issue.path], "PostgreSQL keeps budgets"
    assert not [issue for issue in config.issues if issue.level == "error"]
