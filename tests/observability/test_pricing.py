"""Cost per call: the right price for the model, region and inference profile, overridable per deployment."""

from __future__ import annotations

import pytest

from bedrock_proxy.observability.pricing import PRICING, cost_for, model_id_parts
from bedrock_proxy.observability.record import Usage

ONE_MILLION_EACH = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)


@pytest.mark.parametrize(
    ("model_id", "region", "expected"),
    [
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "us-east-1", (3.0, 15.0)),
        ("anthropic.claude-3-haiku-20240307-v1:0", "eu-west-1", (0.25, 1.25)),
        ("anthropic.claude-3-opus-20240229-v1:0", "us-west-2", (15.0, 75.0)),
        # cross-region profiles cost what the source region's on-demand price is
        ("eu.anthropic.claude-3-5-sonnet-20240620-v1:0", "eu-west-1", (3.0, 15.0)),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1", (0.8, 4.0)),
        ("eu.anthropic.claude-3-5-haiku-20241022-v1:0", "eu-west-1", (0.8, 4.0)),
        # Claude 4.5: regional and geo profiles are 10% above the global profile
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "eu-west-1", (3.3, 16.5)),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "eu-west-1", (3.0, 15.0)),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "us-east-1", (1.0, 5.0)),
        # regions that charge more
        ("meta.llama3-70b-instruct-v1:0", "us-east-1", (2.65, 3.5)),
        ("meta.llama3-70b-instruct-v1:0", "eu-west-1", (2.86, 3.78)),
        ("meta.llama3-8b-instruct-v1:0", "eu-west-2", (0.39, 0.78)),
        ("mistral.mistral-7b-instruct-v0:2", "us-west-2", (0.15, 0.2)),
        ("mistral.mistral-7b-instruct-v0:2", "eu-west-3", (0.2, 0.26)),
        ("mistral.mixtral-8x7b-instruct-v0:1", "eu-west-3", (0.59, 0.91)),
        ("eu.amazon.nova-pro-v1:0", "eu-central-1", (1.05, 4.2)),
        ("amazon.nova-pro-v1:0", "us-east-1", (0.8, 3.2)),
        # ARNs and route prefixes
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            "",
            (0.25, 1.25),
        ),
        ("arn:aws:bedrock:eu-west-3::foundation-model/mistral.mistral-7b-instruct-v0:2", "", (0.2, 0.26)),
        ("converse/anthropic.claude-3-haiku-20240307-v1:0", "us-east-1", (0.25, 1.25)),
    ],
)
def test_chat_prices_per_million_tokens(model_id: str, region: str, expected: tuple[float, float]) -> None:
    cost = cost_for(model_id, region, ONE_MILLION_EACH)
    assert cost == pytest.approx(expected)


@pytest.mark.parametrize(
    ("model_id", "per_million_input"),
    [
        ("amazon.titan-embed-text-v1", 0.1),
        ("amazon.titan-embed-text-v2:0", 0.02),
        ("cohere.embed-multilingual-v3", 0.1),
    ],
)
def test_embeddings_are_priced_on_input_only(model_id: str, per_million_input: float) -> None:
    assert cost_for(model_id, "eu-west-1", Usage(prompt_tokens=1_000_000)) == pytest.approx(
        (per_million_input, 0.0)
    )


def test_every_seed_model_has_a_price() -> None:
    from tests.conftest import SEED_MODELS

    for model_id in [*SEED_MODELS.values(), "cohere.embed-multilingual-v3"]:
        assert cost_for(model_id, "eu-west-1", ONE_MILLION_EACH) is not None, model_id


def test_every_entry_cites_a_source_and_a_date() -> None:
    for model_id, entry in PRICING.items():
        assert entry.source.startswith("https://aws.amazon.com/bedrock/pricing/"), model_id
        assert len(entry.as_of) == 10, model_id


def test_unknown_model_without_override_has_no_cost() -> None:
    assert cost_for("acme.secret-model-v1", "eu-west-1", ONE_MILLION_EACH) is None
    assert (
        cost_for("arn:aws:bedrock:eu-west-1:1:application-inference-profile/abc", "", ONE_MILLION_EACH)
        is None
    )


@pytest.mark.parametrize(
    ("input_override", "output_override", "expected"),
    [
        (1e-6, 2e-6, (1.0, 2.0)),
        (1e-6, None, (1.0, 15.0)),  # the other side keeps the table price
        (None, 0.0, (3.0, 0.0)),
    ],
)
def test_deployment_overrides_win(input_override, output_override, expected) -> None:
    cost = cost_for(
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "eu-west-1",
        ONE_MILLION_EACH,
        input_override,
        output_override,
    )
    assert cost == pytest.approx(expected)


def test_override_prices_an_unknown_model() -> None:
    assert cost_for("acme.private-v1", "eu-west-1", Usage(prompt_tokens=100), 0.01, None) == pytest.approx(
        (1.0, 0.0)
    )


def test_prompt_cache_reads_and_writes_have_their_own_rates() -> None:
    usage = Usage(
        prompt_tokens=1_000_000, completion_tokens=0, cache_read_tokens=400_000, cache_write_tokens=100_000
    )
    input_cost, _ = cost_for("anthropic.claude-3-5-sonnet-20241022-v2:0", "us-east-1", usage)
    # 500k plain at $3/M + 400k reads at $0.30/M + 100k writes at $3.75/M
    assert input_cost == pytest.approx(1.5 + 0.12 + 0.375)


def test_profile_prefixes_and_arns_reduce_to_the_base_model() -> None:
    assert model_id_parts("apac.anthropic.claude-3-haiku-20240307-v1:0") == (
        "anthropic.claude-3-haiku-20240307-v1:0",
        None,
        False,
    )
    assert model_id_parts("global.anthropic.claude-sonnet-4-5-20250929-v1:0")[2] is True
