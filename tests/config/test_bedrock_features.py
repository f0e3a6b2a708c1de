"""A deployment's Bedrock features in litellm_params: service_tier, performanceConfig, guardrailConfig and
LiteLLM's cache_control_injection_points read into BedrockFeatures; every mistake named at its key."""

from __future__ import annotations

import pytest

from bedrock_proxy.config import load_config_text
from bedrock_proxy.config.schema import BedrockFeatures, CacheInjection

from .support import describe, find, inspect

MASTER = "general_settings:\n  master_key: sk-1234\n"


def entry(params: str, model: str = "bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0") -> str:
    return f"model_list:\n  - model_name: m\n    litellm_params:\n      model: {model}\n{params}" + MASTER


def features(params: str) -> BedrockFeatures:
    config = load_config_text(entry(params), {})
    assert not [i for i in config.issues if i.level == "error"], describe(config)
    return config.deployments[0].features


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("", BedrockFeatures()),
        ("      service_tier: flex\n", BedrockFeatures(service_tier="flex")),
        ("      performanceConfig:\n        latency: optimized\n", BedrockFeatures(latency="optimized")),
        (
            "      guardrailConfig:\n        guardrailIdentifier: gr-abc\n        guardrailVersion: 1\n"
            "        trace: enabled\n",
            BedrockFeatures(
                guardrail={"guardrailIdentifier": "gr-abc", "guardrailVersion": "1", "trace": "enabled"}
            ),
        ),
        (
            "      cache_control_injection_points:\n        - location: message\n          role: system\n"
            "        - location: message\n          index: -1\n"
            "        - location: tool_config\n          control: {type: ephemeral, ttl: 1h}\n",
            BedrockFeatures(
                cache_injection=(
                    CacheInjection("message", role="system"),
                    CacheInjection("message", index=-1),
                    CacheInjection("tool_config", ttl="1h"),
                )
            ),
        ),
    ],
)
def test_features_are_read_from_litellm_params(params: str, expected: BedrockFeatures) -> None:
    assert features(params) == expected


@pytest.mark.parametrize(
    ("params", "path", "words"),
    [
        ("      service_tier: fastest\n", "service_tier", ["priority, default, flex"]),
        ("      reasoning_effort: extreme\n", "reasoning_effort", ["low", "medium", "high"]),
        ("      thinking: high\n", "thinking", ["budget_tokens", "adaptive", "disabled"]),
        (
            "      thinking:\n        type: enabled\n        budget_tokens: 100\n",
            "thinking.budget_tokens",
            ["at least 1024"],
        ),
        ("      performanceConfig:\n        latency: instant\n", "performanceConfig.latency", ["optimized"]),
        ("      performanceConfig: optimized\n", "performanceConfig", ["latency"]),
        (
            "      guardrailConfig:\n        guardrailVersion: '1'\n",
            "guardrailConfig.guardrailIdentifier",
            ["required", "id or ARN"],
        ),
        (
            "      guardrailConfig:\n        guardrailIdentifier: g\n        guardrailVersion: '1'\n"
            "        trace: loud\n",
            "guardrailConfig.trace",
            ["enabled_full"],
        ),
        ("      cache_control_injection_points: system\n", "cache_control_injection_points", ["list"]),
        (
            "      cache_control_injection_points:\n        - location: prompt\n",
            "cache_control_injection_points[0].location",
            ["message or tool_config"],
        ),
        (
            "      cache_control_injection_points:\n        - location: message\n          role: tool\n",
            "cache_control_injection_points[0].role",
            ["system, user, assistant"],
        ),
        (
            "      cache_control_injection_points:\n        - location: message\n          role: system\n"
            "          control: {type: ephemeral, ttl: 2h}\n",
            "cache_control_injection_points[0].control.ttl",
            ["5m or 1h"],
        ),
    ],
)
def test_a_bad_feature_is_an_error_at_its_key(params: str, path: str, words: list[str]) -> None:
    config = inspect(entry(params))
    issues = find(config, "error", f"model_list[0].litellm_params.{path}")
    assert issues, describe(config)
    assert all(word in issues[0].message for word in words), issues[0].message


@pytest.mark.parametrize(
    "model",
    [
        "bedrock/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
        "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock/converse/global.anthropic.claude-opus-4-7",
    ],
)
def test_application_profile_arns_and_global_ids_are_models(model: str) -> None:
    config = load_config_text(entry("", model), {})
    assert not [i for i in config.issues if i.level == "error"], describe(config)
    assert config.deployments[0].model_id == model.split("/", 1)[1].removeprefix("converse/")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            "      thinking:\n        type: enabled\n        budget_tokens: 2048\n",
            {"type": "enabled", "budget_tokens": 2048},
        ),
        ("      thinking: {type: adaptive}\n", {"type": "adaptive"}),
        ("      thinking: {type: disabled}\n", {"type": "disabled"}),
    ],
)
def test_litellms_thinking_is_a_deployment_default(params: str, expected: dict[str, object]) -> None:
    config = load_config_text(entry(params + "      reasoning_effort: high\n"), {})
    assert not config.issues, describe(config)
    assert config.deployments[0].defaults == {"thinking": expected, "reasoning_effort": "high"}
