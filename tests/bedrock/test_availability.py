"""The availability table and the advice read from it: never an id that the region cannot call."""

from __future__ import annotations

import re

import pytest

from bedrock_proxy.bedrock.availability import (
    AVAILABILITY,
    advice_for,
    availability_of,
    callable_from,
    geography_of,
)

OPUS = "anthropic.claude-3-opus-20240229-v1:0"
SONNET_V2 = "anthropic.claude-3-5-sonnet-20241022-v2:0"
SONNET_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
EU_SONNET_35 = "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
REGIONS = ("eu-west-1", "eu-central-1", "eu-west-3", "us-east-1", "us-west-2", "ap-southeast-2")


@pytest.mark.parametrize("model_id", [f"eu.{OPUS}", f"eu.{SONNET_V2}", OPUS, SONNET_V2])
def test_the_advice_for_a_model_not_in_the_eu_names_the_substitute_and_no_eu_id_of_it(model_id):
    advice = advice_for(model_id, "eu-west-1")
    assert "is not offered in the EU" in advice
    assert f"model: bedrock/{EU_SONNET_35}" in advice
    assert f"eu.{availability_of(model_id).model_id}" not in advice


def test_the_advice_for_a_profile_only_model_is_its_eu_profile():
    assert advice_for(SONNET_37, "eu-west-1") == (
        f"use model: bedrock/eu.{SONNET_37} in config.yaml (its eu. inference profile)"
    )


def test_an_eu_profile_called_from_a_us_region_is_pointed_at_the_us_profile():
    assert f"bedrock/us.{SONNET_37}" in advice_for(f"eu.{SONNET_37}", "us-east-1")


def test_a_model_served_elsewhere_in_the_eu_is_pointed_at_that_region():
    advice = advice_for("amazon.titan-text-express-v1", "eu-central-1")
    assert (
        advice
        == "set aws_region_name to eu-west-1 or eu-west-3, which serve amazon.titan-text-express-v1 on-demand"
    )


def test_callable_ids_and_unknown_ids_get_no_advice():
    assert advice_for("anthropic.claude-3-haiku-20240307-v1:0", "eu-west-1") == ""
    assert advice_for(EU_SONNET_35, "eu-west-1") == ""
    assert advice_for("acme.unknown-v1", "eu-west-1") == ""
    assert callable_from("acme.unknown-v1", "eu-west-1") is None


def test_arns_are_judged_by_the_id_they_name():
    arn = f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{OPUS}"
    assert callable_from(arn, "eu-west-1") is False
    assert callable_from(
        f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/{EU_SONNET_35}", "eu-west-1"
    )


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("model_id", sorted(AVAILABILITY))
def test_every_id_the_advice_suggests_is_callable_from_that_region(model_id, region):
    for candidate in (model_id, *(f"{geo}.{model_id}" for geo in ("eu", "us", "apac", "global"))):
        for suggested in re.findall(r"model: bedrock/(\S+)", advice_for(candidate, region)):
            assert callable_from(suggested, region), (candidate, region, suggested)


def test_every_eu_substitute_is_callable_from_eu_west_1_and_replaces_a_model_the_eu_lacks():
    substituted = [entry for entry in AVAILABILITY.values() if entry.eu_substitute]
    assert {entry.model_id for entry in substituted} >= {OPUS, SONNET_V2}
    for entry in substituted:
        assert callable_from(entry.eu_substitute, "eu-west-1")
        assert not any(geography_of(region) == "eu" for region in entry.on_demand)
        assert "eu" not in entry.profiles


def test_regions_map_to_the_geography_of_the_profiles_they_may_call():
    assert [geography_of(r) for r in ("eu-west-1", "us-east-2", "ap-south-1", "us-gov-west-1")] == [
        "eu",
        "us",
        "apac",
        "us-gov",
    ]
