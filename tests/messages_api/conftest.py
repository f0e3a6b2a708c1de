"""A gateway for the Anthropic Messages API tests: Claude (3 Haiku; 3.7 Sonnet, which thinks), Llama and
Mistral deployments, Anthropic's model names through a wildcard and an alias, a team key."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from tests.support.processes import gateway_process

MASTER_KEY = "sk-1234"
TEAM_KEY = "sk-team-coders"

CONFIG = f"""
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
  - model_name: claude-3-7-sonnet
    litellm_params:
      model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: eu-west-1
  - model_name: llama3-2-3b
    litellm_params:
      model: bedrock/eu.meta.llama3-2-3b-instruct-v1:0
      aws_region_name: eu-west-1
  - model_name: mistral-large
    litellm_params:
      model: bedrock/mistral.mistral-large-2402-v1:0
      aws_region_name: eu-west-1
  - model_name: "claude-haiku-*"
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
router_settings:
  model_group_alias:
    claude-sonnet-4-5-20250929: claude-3-7-sonnet
general_settings:
  master_key: {MASTER_KEY}
  api_keys:
    - key: {TEAM_KEY}
      key_alias: coders
"""


@pytest.fixture(scope="session")
def messages_gateway_url(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(
        CONFIG, tmp_path_factory.mktemp("messages-gateway"), emulator_url=emulator_url
    ) as url:
        yield url


@pytest.fixture(scope="session")
def claude(messages_gateway_url: str) -> anthropic.Anthropic:
    """The real Anthropic SDK, pointed at the gateway (x-api-key)."""
    return anthropic.Anthropic(api_key=MASTER_KEY, base_url=messages_gateway_url, max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def caching_gateway_url(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same models with the response cache on (in-process)."""
    config = CONFIG + "litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n"
    with gateway_process(config, tmp_path_factory.mktemp("messages-cache"), emulator_url=emulator_url) as url:
        yield url
