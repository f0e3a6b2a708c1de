"""The 2025-2026 line-up: limits and the reasoning each model takes, by id in every form (issue 16)."""

from __future__ import annotations

import pytest

from bedrock_proxy.bedrock.capabilities import capabilities_for

# model id -> (family, images, documents, tools, context window, max output, reasoning field, thinking types)
Row = tuple[str, bool, bool, bool, int, int, str, set[str]]


def claude(window: int, output: int, thinking: set[str]) -> Row:
    """A Claude row: images, documents, tools; `thinking` its thinking types (empty: no reasoning)."""
    return ("claude", True, True, True, window, output, "thinking" if thinking else "", thinking)


TABLE: dict[str, Row] = {
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": claude(200_000, 64_000, {"enabled"}),
    "global.anthropic.claude-haiku-4-5-20251001-v1:0": claude(200_000, 64_000, {"enabled"}),
    "eu.anthropic.claude-opus-4-5-20251101-v1:0": claude(200_000, 64_000, {"enabled"}),
    "eu.anthropic.claude-sonnet-4-6": claude(1_000_000, 128_000, {"enabled", "adaptive"}),
    "global.anthropic.claude-opus-4-6-v1": claude(1_000_000, 128_000, {"enabled", "adaptive"}),
    "eu.anthropic.claude-opus-4-7": claude(1_000_000, 128_000, {"adaptive"}),
    "eu.anthropic.claude-sonnet-4-20250514-v1:0": claude(200_000, 64_000, {"enabled"}),
    "anthropic.claude-opus-4-1-20250805-v1:0": claude(200_000, 32_000, {"enabled"}),
    "eu.anthropic.claude-3-7-sonnet-20250219-v1:0": claude(200_000, 64_000, {"enabled"}),
    "anthropic.claude-3-haiku-20240307-v1:0": claude(200_000, 4096, set()),
    "eu.amazon.nova-micro-v1:0": ("nova", False, False, True, 128_000, 10_000, "", set()),
    "eu.amazon.nova-lite-v1:0": ("nova", True, True, True, 300_000, 10_000, "", set()),
    "eu.amazon.nova-pro-v1:0": ("nova", True, True, True, 300_000, 10_000, "", set()),
    "global.amazon.nova-2-lite-v1:0": ("nova", True, True, True, 1_000_000, 64_000, "reasoningConfig", set()),
    "openai.gpt-oss-120b-1:0": ("gpt-oss", False, False, True, 128_000, 128_000, "reasoning_effort", set()),
    "openai.gpt-oss-20b-1:0": ("gpt-oss", False, False, True, 128_000, 128_000, "reasoning_effort", set()),
    "eu.meta.llama3-2-3b-instruct-v1:0": ("llama", False, True, True, 128_000, 2048, "", set()),
    "eu.mistral.pixtral-large-2502-v1:0": ("mistral-large", True, False, True, 128_000, 16_384, "", set()),
}


@pytest.mark.parametrize(("model_id", "row"), TABLE.items(), ids=list(TABLE))
def test_current_models_have_their_documented_limits_and_reasoning(model_id, row):
    caps = capabilities_for(model_id)
    assert (
        caps.family,
        caps.images,
        caps.documents,
        caps.tools,
        caps.context_window,
        caps.max_output_tokens,
        caps.reasoning_field,
        set(caps.thinking),
    ) == row


@pytest.mark.parametrize(
    ("model_id", "window"),
    [("cohere.embed-v4:0", 128_000), ("eu.cohere.embed-v4:0", 128_000), ("cohere.embed-english-v3", 512)],
)
def test_embedding_models_have_their_input_windows(model_id, window):
    caps = capabilities_for(model_id)
    assert caps.embedding and caps.context_window == window and not caps.tools


def test_effort_is_taken_by_opus_4_5_and_every_model_from_4_6_on():
    takes = {mid: capabilities_for(mid).effort for mid in TABLE if mid.count("claude")}
    assert {mid for mid, effort in takes.items() if effort} == {
        "eu.anthropic.claude-opus-4-5-20251101-v1:0",
        "eu.anthropic.claude-sonnet-4-6",
        "global.anthropic.claude-opus-4-6-v1",
        "eu.anthropic.claude-opus-4-7",
    }
