"""The Bedrock control plane through the real boto3 `bedrock` client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

SEED_MODELS = {
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-3-opus-20240229-v1:0",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "amazon.titan-text-express-v1",
    "amazon.titan-text-lite-v1",
    "amazon.titan-embed-text-v1",
    "amazon.titan-embed-text-v2:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    "mistral.mistral-large-2402-v1:0",
    "mistral.mixtral-8x7b-instruct-v0:1",
    "mistral.mistral-7b-instruct-v0:2",
}


def ids(response: dict) -> set[str]:
    return {summary["modelId"] for summary in response["modelSummaries"]}


def test_list_foundation_models_covers_every_model_of_the_seed(control):
    response = control.list_foundation_models()
    assert ids(response) >= SEED_MODELS
    summary = response["modelSummaries"][0]
    assert summary["modelArn"] == f"arn:aws:bedrock:eu-west-1::foundation-model/{summary['modelId']}"
    assert summary["modelLifecycle"]["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("filters", "included", "excluded"),
    [
        ({"byProvider": "Anthropic"}, "anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-text-lite-v1"),
        ({"byProvider": "mistral"}, "mistral.mistral-7b-instruct-v0:2", "meta.llama3-1-8b-instruct-v1:0"),
        ({"byOutputModality": "EMBEDDING"}, "amazon.titan-embed-text-v2:0", "amazon.titan-text-lite-v1"),
        ({"byOutputModality": "TEXT"}, "mistral.mistral-7b-instruct-v0:2", "cohere.embed-english-v3"),
        (
            {"byInferenceType": "ON_DEMAND"},
            "anthropic.claude-3-haiku-20240307-v1:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
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


def test_get_foundation_model_of_an_unknown_model_is_not_found(control):
    with pytest.raises(ClientError) as caught:
        control.get_foundation_model(modelIdentifier="anthropic.claude-9-v1:0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_inference_profiles_has_the_eu_profiles(control):
    summaries = control.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    by_id = {summary["inferenceProfileId"]: summary for summary in summaries}
    profile = by_id["eu.anthropic.claude-3-5-sonnet-20241022-v2:0"]
    assert profile["status"] == "ACTIVE" and profile["type"] == "SYSTEM_DEFINED"
    regions = {model["modelArn"].split(":")[3] for model in profile["models"]}
    assert regions == {"eu-central-1", "eu-west-1", "eu-west-3"}
    assert all(pid.startswith("eu.") for pid in by_id)
    assert control.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"] == []


def test_every_model_that_needs_a_profile_has_one(control):
    needs_profile = ids(control.list_foundation_models()) - ids(
        control.list_foundation_models(byInferenceType="ON_DEMAND")
    )
    profiles = {
        s["inferenceProfileId"] for s in control.list_inference_profiles()["inferenceProfileSummaries"]
    }
    assert needs_profile and {f"eu.{model_id}" for model_id in needs_profile} <= profiles
