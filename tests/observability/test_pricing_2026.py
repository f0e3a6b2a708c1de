"""Prices of the 2025-2026 line-up: every catalogue model priced, geo vs global, 5-minute and 1-hour cache
writes, and application inference profiles priced as the model they wrap."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bedrock_proxy.bedrock.availability import AVAILABILITY
from bedrock_proxy.emulator.catalogue import MODELS
from bedrock_proxy.observability.pricing import (
    BATCH_SHARE,
    GLOBAL_DISCOUNT,
    PRICING,
    batch_price_for,
    cost_for,
    price_for,
    price_profile_as,
    wrapped_model,
)
from bedrock_proxy.observability.record import Usage

M = 1e-6
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
APP_ARN = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/pricing-test-1"


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_every_model_the_emulator_serves_has_a_price_with_a_source(model_id: str) -> None:
    entry = PRICING.get(model_id)
    assert entry is not None, f"{model_id} is in the catalogue but has no price"
    assert entry.source and entry.as_of
    assert price_for(model_id, "eu-west-1") is not None


def test_every_model_of_the_availability_table_has_a_price() -> None:
    assert sorted(set(AVAILABILITY) - set(PRICING)) == []


# model id -> (input, output) USD per million tokens, called from eu-west-1
TABLE = {
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": (3.3, 16.5),
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": (3.0, 15.0),
    "eu.anthropic.claude-haiku-4-5-20251001-v1:0": (1.1, 5.5),
    "global.anthropic.claude-haiku-4-5-20251001-v1:0": (1.0, 5.0),
    "eu.anthropic.claude-opus-4-5-20251101-v1:0": (5.5, 27.5),
    "global.anthropic.claude-opus-4-6-v1": (5.0, 25.0),
    "eu.anthropic.claude-opus-4-7": (5.5, 27.5),
    "eu.anthropic.claude-sonnet-4-6": (3.3, 16.5),
    "eu.anthropic.claude-sonnet-4-20250514-v1:0": (3.0, 15.0),  # before 4.5: no global discount
    "global.anthropic.claude-sonnet-4-20250514-v1:0": (3.0, 15.0),
    "eu.amazon.nova-pro-v1:0": (1.05, 4.2),
    "eu.amazon.nova-2-lite-v1:0": (0.33, 2.75),
    "global.amazon.nova-2-lite-v1:0": (0.30, 2.50),
    "openai.gpt-oss-120b-1:0": (0.15, 0.6),
    "openai.gpt-oss-20b-1:0": (0.07, 0.3),
    "eu.mistral.pixtral-large-2502-v1:0": (2.0, 6.0),
    "mistral.ministral-3-8b-instruct": (0.15, 0.15),
    "mistral.ministral-3-14b-instruct": (0.2, 0.2),
    "mistral.mistral-large-3-675b-instruct": (0.5, 1.5),
    "mistral.magistral-small-2509": (0.5, 1.5),
    "mistral.ministral-3-3b-instruct": (0.1, 0.1),
}


@pytest.mark.parametrize(("model_id", "expected"), TABLE.items(), ids=list(TABLE))
def test_current_models_cost_their_documented_price(model_id: str, expected: tuple[float, float]) -> None:
    price = price_for(model_id, "eu-west-1")
    assert price is not None
    assert (price.input / M, price.output / M) == pytest.approx(expected)


@pytest.mark.parametrize(
    "base",
    [
        SONNET_45,
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-opus-4-7",
        "amazon.nova-2-lite-v1:0",
    ],
)
def test_a_global_profile_costs_the_documented_share_of_the_eu_profile(base: str) -> None:
    usage = Usage(
        prompt_tokens=10_000, completion_tokens=2_000, cache_read_tokens=4_000, cache_write_tokens=1_000
    )
    eu = cost_for(f"eu.{base}", "eu-west-1", usage)
    world = cost_for(f"global.{base}", "eu-west-1", usage)
    assert eu is not None and world is not None
    assert sum(world) == pytest.approx(sum(eu) * GLOBAL_DISCOUNT)


def test_claude_cache_reads_and_5_minute_and_1_hour_writes_have_anthropics_ratios() -> None:
    price = price_for(f"global.{SONNET_45}", "eu-west-1")
    assert price is not None and price.cache_read and price.cache_write and price.cache_write_1h
    assert (price.cache_read / price.input, price.cache_write / price.input) == pytest.approx((0.1, 1.25))
    assert price.cache_write_1h / price.input == pytest.approx(2.0)


@dataclass(frozen=True)
class _UsageWithTtl(Usage):
    cache_write_1h_tokens: int = 0


def test_one_hour_writes_are_priced_as_such_when_the_usage_says_how_many() -> None:
    five = Usage(prompt_tokens=3_000, cache_write_tokens=2_000)
    hour = _UsageWithTtl(prompt_tokens=3_000, cache_write_tokens=2_000, cache_write_1h_tokens=2_000)
    five_cost, hour_cost = (
        cost_for(f"global.{SONNET_45}", "eu-west-1", five),
        cost_for(f"global.{SONNET_45}", "eu-west-1", hour),
    )
    assert five_cost is not None and hour_cost is not None
    # 1,000 plain tokens at 3/M, then 2,000 written at 3.75/M or at 6/M
    assert five_cost[0] == pytest.approx((1_000 * 3 + 2_000 * 3.75) * M)
    assert hour_cost[0] == pytest.approx((1_000 * 3 + 2_000 * 6) * M)


def test_an_application_profile_is_unpriced_until_learnt_then_priced_as_the_model_it_wraps() -> None:
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert cost_for(APP_ARN, "eu-west-1", usage) is None
    price_profile_as(APP_ARN, f"eu.{SONNET_45}")
    assert wrapped_model(APP_ARN) == f"eu.{SONNET_45}"
    assert cost_for(APP_ARN, "eu-west-1", usage) == pytest.approx((3.3, 16.5))


@pytest.mark.parametrize(
    ("model_id", "plain"), [("eu.amazon.nova-pro-v1:0", 1.05), ("eu.amazon.nova-micro-v1:0", 0.046)]
)
def test_nova_cache_reads_cost_a_quarter_of_input_and_writes_cost_input(model_id: str, plain: float) -> None:
    # a repeated prefix: 8,000 tokens read from the cache, 2,000 plain ones; then the first call's write
    read = cost_for(model_id, "eu-west-1", Usage(prompt_tokens=10_000, cache_read_tokens=8_000))
    written = cost_for(model_id, "eu-west-1", Usage(prompt_tokens=10_000, cache_write_tokens=8_000))
    assert read is not None and written is not None
    assert read[0] == pytest.approx((2_000 + 8_000 * 0.25) * plain * M)
    assert written[0] == pytest.approx(10_000 * plain * M)


# model id -> batch (input, output) USD per million from eu-west-1; None where Bedrock runs no batch jobs
BATCH = {
    "eu.amazon.nova-pro-v1:0": (0.525, 2.1),
    "amazon.nova-lite-v1:0": (0.03, 0.12),  # the US on-demand price, halved
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": (1.65, 8.25),
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": (1.5, 7.5),
    "anthropic.claude-3-haiku-20240307-v1:0": (0.125, 0.625),
    "amazon.titan-embed-text-v2:0": (0.01, 0.0),
    "eu.mistral.pixtral-large-2502-v1:0": None,
    "mistral.ministral-3-8b-instruct": None,
    "openai.gpt-oss-120b-1:0": None,
    "cohere.embed-v4:0": None,
    "an.unknown-model-v1:0": None,
}


@pytest.mark.parametrize(("model_id", "expected"), BATCH.items(), ids=list(BATCH))
def test_batch_prices_are_half_of_on_demand_and_only_where_bedrock_has_batch(
    model_id: str, expected: tuple[float, float] | None
) -> None:
    region = "us-east-1" if model_id == "amazon.nova-lite-v1:0" else "eu-west-1"
    batch = batch_price_for(model_id, region)
    if expected is None:
        assert batch is None
        return
    assert batch is not None
    assert (batch.input / M, batch.output / M) == pytest.approx(expected)
    on_demand = price_for(model_id, region)
    assert on_demand is not None and batch.input == pytest.approx(on_demand.input * BATCH_SHARE)
    assert batch.cache_read is None and batch.cache_write is None  # batch jobs have no prompt caching
