"""The config of `bedrock-proxy demo`: the repository config.yaml's models, sent to a local emulator.

It needs no environment variable and no AWS account: the master key is sk-1234 and the credentials are
AWS's documented example pair, which the emulator verifies SigV4 against by default. The model table
mirrors the root config.yaml (a test keeps them equal) because an installed package has no config.yaml.
"""

from __future__ import annotations

import os
from collections import ChainMap
from typing import Any

from bedrock_proxy.config.loader import config_from_dict, load_config
from bedrock_proxy.config.schema import Config, Deployment

DEMO_MASTER_KEY = "sk-1234"
EXAMPLE_ACCESS_KEY_ID = "AKIDEXAMPLE"
EXAMPLE_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
DEMO_REGION = "eu-west-1"

# model_name -> litellm_params.model, as in the root config.yaml
DEMO_MODELS: dict[str, str] = {
    "claude-3-5-sonnet": "bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-opus": "bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-sonnet": "bedrock/anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-haiku": "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
    "titan-text-express": "bedrock/amazon.titan-text-express-v1",
    "titan-text-lite": "bedrock/amazon.titan-text-lite-v1",
    "titan-embed-text": "bedrock/amazon.titan-embed-text-v1",
    "titan-embed-text-v2": "bedrock/amazon.titan-embed-text-v2:0",
    "llama3-1-70b": "bedrock/eu.meta.llama3-2-3b-instruct-v1:0",
    "llama3-1-8b": "bedrock/eu.meta.llama3-2-3b-instruct-v1:0",
    "mistral-large": "bedrock/mistral.mistral-large-2402-v1:0",
    "mixtral-8x7b": "bedrock/mistral.mixtral-8x7b-instruct-v0:1",
    "mistral-7b": "bedrock/mistral.mistral-7b-instruct-v0:2",
    "claude-sonnet-4-5": "bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-haiku-4-5": "bedrock/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude-opus-4-5": "bedrock/eu.anthropic.claude-opus-4-5-20251101-v1:0",
    "claude-sonnet-4-6": "bedrock/eu.anthropic.claude-sonnet-4-6",
    "claude-opus-4-6": "bedrock/eu.anthropic.claude-opus-4-6-v1",
    "claude-opus-4-7": "bedrock/eu.anthropic.claude-opus-4-7",
    "claude-sonnet-4": "bedrock/eu.anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-3-7-sonnet": "bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "nova-pro": "bedrock/eu.amazon.nova-pro-v1:0",
    "nova-lite": "bedrock/eu.amazon.nova-lite-v1:0",
    "nova-micro": "bedrock/eu.amazon.nova-micro-v1:0",
    "nova-2-lite": "bedrock/eu.amazon.nova-2-lite-v1:0",
    "gpt-oss-120b": "bedrock/openai.gpt-oss-120b-1:0",
    "gpt-oss-20b": "bedrock/openai.gpt-oss-20b-1:0",
    "llama3-2-3b": "bedrock/eu.meta.llama3-2-3b-instruct-v1:0",
    "llama3-2-1b": "bedrock/eu.meta.llama3-2-1b-instruct-v1:0",
    "pixtral-large": "bedrock/eu.mistral.pixtral-large-2502-v1:0",
    "ministral-3-8b": "bedrock/mistral.ministral-3-8b-instruct",
    "ministral-3-14b": "bedrock/mistral.ministral-3-14b-instruct",
    "cohere-embed-v4": "bedrock/cohere.embed-v4:0",
}
DEMO_SETTINGS: dict[str, Any] = {
    "litellm_settings": {
        "num_retries": 3,
        "request_timeout": 600,
        "drop_params": True,
        "fallbacks": [
            {"model": "claude-3-5-sonnet", "fallback": "claude-3-haiku"},
            {"model": "claude-3-opus", "fallback": "claude-3-sonnet"},
        ],
        "context_window_fallbacks": [
            {"model": "mistral-large", "fallback": "claude-3-5-sonnet"},
            {"model": "mixtral-8x7b", "fallback": "claude-3-haiku"},
        ],
    },
    "router_settings": {"routing_strategy": "simple-shuffle", "allowed_fails": 3, "cooldown_time": 5},
    "general_settings": {"master_key": DEMO_MASTER_KEY},
}


def demo_config(endpoint: str, path: str | os.PathLike[str] | None = None) -> Config:
    """The demo Config with every deployment calling `endpoint` with the example key pair.

    With `path`, that file's models and settings are used instead (LITELLM_MASTER_KEY defaults to sk-1234).
    """
    if path is not None:
        config = load_config(path, ChainMap(dict(os.environ), {"LITELLM_MASTER_KEY": DEMO_MASTER_KEY}))
        for deployment in config.deployments:
            _point_at(deployment, endpoint)
        return config
    model_list = [
        {
            "model_name": name,
            "litellm_params": {
                "model": model,
                "aws_region_name": DEMO_REGION,
                "aws_bedrock_runtime_endpoint": endpoint,
                "aws_access_key_id": EXAMPLE_ACCESS_KEY_ID,
                "aws_secret_access_key": EXAMPLE_SECRET_ACCESS_KEY,
            },
        }
        for name, model in DEMO_MODELS.items()
    ]
    return config_from_dict({"model_list": model_list, **DEMO_SETTINGS}, environ={}, source="demo")


def _point_at(deployment: Deployment, endpoint: str) -> None:
    deployment.endpoint = endpoint.rstrip("/")
    deployment.aws_access_key_id = EXAMPLE_ACCESS_KEY_ID
    deployment.aws_secret_access_key = EXAMPLE_SECRET_ACCESS_KEY
    deployment.aws_session_token = None
    deployment.aws_role_name = None
    deployment.aws_profile_name = None
    deployment.aws_bearer_token = None
    deployment.litellm_params["aws_bedrock_runtime_endpoint"] = deployment.endpoint
