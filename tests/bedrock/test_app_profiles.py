"""Which id an application inference profile is priced as, read from a GetInferenceProfile answer."""

from __future__ import annotations

import pytest

from bedrock_proxy.bedrock.app_profiles import is_application_profile, wrapped_id

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def arns(model_id: str, *regions: str) -> dict:
    return {"models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{model_id}"} for r in regions]}


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (arns(SONNET, "eu-west-1"), SONNET),  # copied from the model itself
        (arns(SONNET, "eu-central-1", "eu-west-1", "eu-west-3"), SONNET),  # from its eu. profile
        (arns(SONNET, "eu-west-1", "us-east-1", "ap-south-1"), f"global.{SONNET}"),  # from its global. one
        ({"models": []}, None),
        ({}, None),
        ({"models": [*arns(SONNET, "eu-west-1")["models"], *arns("x.y-v1", "eu-west-1")["models"]]}, None),
    ],
    ids=["model", "eu-profile", "global-profile", "no-model", "no-models-key", "two-models"],
)
def test_the_wrapped_id_follows_the_regions_the_profile_routes_to(summary, expected):
    assert wrapped_id(summary) == expected


def test_only_application_profile_arns_are_looked_up():
    assert is_application_profile("arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc")
    assert not is_application_profile(f"eu.{SONNET}")
    assert not is_application_profile(f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{SONNET}")
