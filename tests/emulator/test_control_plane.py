"""The Bedrock control plane through the real boto3 `bedrock` client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from bedrock_proxy.emulator import EmulatorOptions, start_in_thread
from tests.emulator.conftest import make_client

# The seed's models AWS offers nowhere in the EU (on-demand in us-west-2, US profiles).
US_ONLY = {
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-opus-20240229-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
}
SEED_MODELS_IN_EU_WEST_1 = {
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.titan-text-express-v1",
    "amazon.titan-text-lite-v1",
    "amazon.titan-embed-text-v1",
    "amazon.titan-embed-text-v2:0",
    "mistral.mistral-large-2402-v1:0",
    "mistral.mixtral-8x7b-instruct-v0:1",
    "mistral.mistral-7b-instruct-v0:2",
}


def ids(response: dict) -> set[str]:
    return {summary["modelId"] for summary in response["modelSummaries"]}


@pytest.fixture(scope="module")
def oregon_control() -> Iterator[object]:
    """The control plane of an emulator playing us-west-2."""
    with start_in_thread(EmulatorOptions(region="us-west-2")) as running:
        yield make_client("bedrock", running.url, region="us-west-2")


def test_list_foundation_models_in_eu_west_1_has_the_seeds_models_offered_there(control):
    response = control.list_foundation_models()
    assert ids(response) >= SEED_MODELS_IN_EU_WEST_1
    assert not ids(response) & US_ONLY
    summary = response["modelSummaries"][0]
    assert summary["modelArn"] == f"arn:aws:bedrock:eu-west-1::foundation-model/{summary['modelId']}"
    statuses = {s["modelId"]: s["modelLifecycle"]["status"] for s in response["modelSummaries"]}
    assert statuses["anthropic.claude-3-haiku-20240307-v1:0"] == "ACTIVE"
    assert statuses["anthropic.claude-3-sonnet-20240229-v1:0"] == "LEGACY"  # being retired, still served


@pytest.mark.parametrize(
    ("filters", "included", "excluded"),
    [
        ({"byProvider": "Anthropic"}, "anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-text-lite-v1"),
        ({"byProvider": "mistral"}, "mistral.mistral-7b-instruct-v0:2", "meta.llama3-2-3b-instruct-v1:0"),
        ({"byOutputModality": "EMBEDDING"}, "amazon.titan-embed-text-v2:0", "amazon.titan-text-lite-v1"),
        ({"byOutputModality": "TEXT"}, "mistral.mistral-7b-instruct-v0:2", "cohere.embed-english-v3"),
        (
            {"byInferenceType": "ON_DEMAND"},
            "anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
    ],
)
def test_list_foundation_models_filters(control, filters, included, excluded):
    found = ids(control.list_foundation_models(**filters))
    assert included in found and excluded not in found


def test_an_unknown_output_modality_is_a_validation_error(control):
    with pytest.raises(control.exceptions.ValidationException):
        control.list_foundation_models(byOutputModality="VIDEO")


def test_get_foundation_model_describes_capabilities(control):
    details = control.get_foundation_model(modelIdentifier="anthropic.claude-3-haiku-20240307-v1:0")[
        "modelDetails"
    ]
    assert details["providerName"] == "Anthropic"
    assert details["inputModalities"] == ["TEXT", "IMAGE"]
    assert details["responseStreamingSupported"] is True
    embed = control.get_foundation_model(modelIdentifier="amazon.titan-embed-text-v1")["modelDetails"]
    assert embed["outputModalities"] == ["EMBEDDING"] and embed["responseStreamingSupported"] is False


@pytest.mark.parametrize("model_id", ["anthropic.claude-9-v1:0", "anthropic.claude-3-opus-20240229-v1:0"])
def test_get_foundation_model_of_a_model_not_offered_here_is_not_found(control, model_id):
    with pytest.raises(ClientError) as caught:
        control.get_foundation_model(modelIdentifier=model_id)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_inference_profiles_has_the_eu_profiles(control):
    summaries = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    by_id = {summary["inferenceProfileId"]: summary for summary in summaries}
    assert "eu.anthropic.claude-3-5-sonnet-20241022-v2:0" not in by_id
    assert "eu.anthropic.claude-3-opus-20240229-v1:0" not in by_id
    profile = by_id["eu.anthropic.claude-3-5-sonnet-20240620-v1:0"]
    assert profile["status"] == "ACTIVE" and profile["type"] == "SYSTEM_DEFINED"
    regions = {model["modelArn"].split(":")[3] for model in profile["models"]}
    assert regions == {"eu-central-1", "eu-west-1", "eu-west-3"}
    assert all(pid.startswith(("eu.", "global.")) for pid in by_id)  # no us. or apac. profile
    applications = control.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert {p["type"] for p in applications} == {"APPLICATION"}  # the account's own, none system-defined


def test_every_model_that_needs_a_profile_has_one(control):
    needs_profile = ids(control.list_foundation_models()) - ids(
        control.list_foundation_models(byInferenceType="ON_DEMAND")
    )
    profiles = {
        s["inferenceProfileId"] for s in control.list_inference_profiles()["inferenceProfileSummaries"]
    }
    assert needs_profile and {f"eu.{model_id}" for model_id in needs_profile} <= profiles


def test_get_inference_profile_of_a_profile_aws_does_not_have_is_not_found(control):
    with pytest.raises(ClientError) as caught:
        control.get_inference_profile(inferenceProfileIdentifier="eu.anthropic.claude-3-opus-20240229-v1:0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_emulator_in_us_west_2_offers_the_us_only_models_and_their_us_profiles(oregon_control):
    on_demand = ids(oregon_control.list_foundation_models(byInferenceType="ON_DEMAND"))
    assert on_demand >= US_ONLY
    profiles = {
        s["inferenceProfileId"] for s in oregon_control.list_inference_profiles()["inferenceProfileSummaries"]
    }
    assert "us.anthropic.claude-3-opus-20240229-v1:0" in profiles
    assert not any(profile.startswith("eu.") for profile in profiles)
