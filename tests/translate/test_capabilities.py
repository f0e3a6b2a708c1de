"""Which Bedrock model accepts what, whatever form its id takes."""

from __future__ import annotations

import dataclasses

import pytest

from bedrock_proxy.bedrock.capabilities import ModelCapabilities, base_model_id, capabilities_for

CLAUDE = "anthropic.claude-3-5-sonnet-20241022-v2:0"


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (CLAUDE, CLAUDE),
        ("eu.anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("us.meta.llama3-1-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0"),
        ("apac.anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
        (f"arn:aws:bedrock:eu-west-1::foundation-model/{CLAUDE}", CLAUDE),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-haiku-20240307-v1:0",
        ),
    ],
    ids=[
        "plain",
        "eu-profile",
        "us-profile",
        "apac-profile",
        "global-profile",
        "foundation-arn",
        "profile-arn",
    ],
)
def test_every_id_form_resolves_to_the_foundation_model(model_id, expected):
    assert base_model_id(model_id) == expected


# family, system_prompt, tools, streaming_tools, images, tool_choice_any, embedding
@pytest.mark.parametrize(
    ("model_id", "row"),
    [
        (CLAUDE, ("claude", True, True, True, True, True, False)),
        ("anthropic.claude-3-haiku-20240307-v1:0", ("claude", True, True, True, True, True, False)),
        ("eu.anthropic.claude-3-5-sonnet-20240620-v1:0", ("claude", True, True, True, True, True, False)),
        ("amazon.titan-text-express-v1", ("titan-text", False, False, False, False, False, False)),
        ("amazon.titan-text-lite-v1", ("titan-text", False, False, False, False, False, False)),
        ("meta.llama3-1-70b-instruct-v1:0", ("llama", True, True, False, False, False, False)),
        ("meta.llama3-1-8b-instruct-v1:0", ("llama", True, True, False, False, False, False)),
        ("mistral.mistral-large-2402-v1:0", ("mistral-large", True, True, False, False, True, False)),
        ("mistral.mistral-7b-instruct-v0:2", ("mistral", False, False, False, False, False, False)),
        ("mistral.mixtral-8x7b-instruct-v0:1", ("mistral", False, False, False, False, False, False)),
        ("amazon.titan-embed-text-v1", ("titan-embed", False, False, False, False, False, True)),
        ("amazon.titan-embed-text-v2:0", ("titan-embed", False, False, False, False, False, True)),
        ("cohere.embed-multilingual-v3", ("cohere-embed", False, False, False, False, False, True)),
        ("amazon.nova-pro-v1:0", ("nova", True, True, True, True, True, False)),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3",
            ("unknown", True, True, True, True, True, False),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_feature_table_matches_the_bedrock_reference(model_id, row):
    caps = capabilities_for(model_id)
    assert (
        caps.family,
        caps.system_prompt,
        caps.tools,
        caps.streaming_tools,
        caps.images,
        caps.tool_choice_any,
        caps.embedding,
    ) == row


@pytest.mark.parametrize(
    ("model_id", "window", "output"),
    [
        (CLAUDE, 200_000, 8192),
        ("anthropic.claude-3-opus-20240229-v1:0", 200_000, 4096),
        ("amazon.titan-text-express-v1", 8192, 8192),
        ("amazon.titan-text-lite-v1", 4096, 4096),
        ("meta.llama3-1-70b-instruct-v1:0", 128_000, 2048),
        ("mistral.mistral-large-2402-v1:0", 32_000, 8192),
    ],
    ids=["claude-3-5", "claude-3-opus", "titan-express", "titan-lite", "llama-3-1", "mistral-large"],
)
def test_context_window_and_output_limits_are_known_for_the_seed_models(model_id, window, output):
    caps = capabilities_for(model_id)
    assert (caps.context_window, caps.max_output_tokens) == (window, output)


def test_unknown_models_get_permissive_defaults_without_limits():
    caps = capabilities_for("someone.new-model-v9:0")
    assert caps.family == "unknown" and caps.tools and caps.images and caps.context_window is None


def test_capabilities_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        capabilities_for(CLAUDE).tools = False  # type: ignore[misc]
    assert isinstance(capabilities_for(CLAUDE), ModelCapabilities)
