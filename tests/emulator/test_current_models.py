"""The 2025-2026 models through boto3: served through their profiles, refused on-demand with Bedrock's own
text, their capabilities enforced, and application inference profiles answered by GetInferenceProfile."""

from __future__ import annotations

import orjson
import pytest
from botocore.exceptions import ClientError

from bedrock_proxy.emulator.catalogue import MODELS
from tests.emulator.conftest import user

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
APP_ARN = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/teamhaiku45gl"
PROFILE_ONLY = [
    SONNET_45,
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-opus-4-6-v1",
    "anthropic.claude-opus-4-7",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "amazon.nova-2-lite-v1:0",
    "mistral.pixtral-large-2502-v1:0",
]
CALLABLE_FROM_EU_WEST_1 = [
    *(f"eu.{model_id}" for model_id in PROFILE_ONLY),
    *(f"global.{model_id}" for model_id in [*PROFILE_ONLY[:7], "amazon.nova-2-lite-v1:0"]),
    "eu.amazon.nova-micro-v1:0",
    "eu.amazon.nova-lite-v1:0",
    "eu.amazon.nova-pro-v1:0",
    "openai.gpt-oss-120b-1:0",
    "openai.gpt-oss-20b-1:0",
    "mistral.ministral-3-8b-instruct",
    "mistral.ministral-3-14b-instruct",
    "cohere.embed-v4:0",
    APP_ARN,
]
NOT_IN_THE_EU = [
    "mistral.mistral-large-3-675b-instruct",
    "mistral.magistral-small-2509",
    "mistral.ministral-3-3b-instruct",
]


@pytest.mark.parametrize("model_id", [m for m in CALLABLE_FROM_EU_WEST_1 if "embed" not in m])
def test_current_models_answer_converse_from_eu_west_1(runtime, model_id):
    response = runtime.converse(modelId=model_id, messages=user("Bonjour"), inferenceConfig={"maxTokens": 20})
    assert response["output"]["message"]["content"][0]["text"]
    assert response["usage"]["inputTokens"] > 0


@pytest.mark.parametrize("model_id", PROFILE_ONLY)
def test_profile_only_models_called_on_demand_get_bedrocks_validation_text(runtime, model_id):
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=model_id, messages=user("Bonjour"))
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f"Invocation of model ID {model_id} with on-demand throughput isn’t supported. Retry your request"
        " with the ID or ARN of an inference profile that contains this model."
    )


def test_a_us_only_profile_is_not_known_in_eu_west_1(runtime):
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId="us.anthropic.claude-opus-4-1-20250805-v1:0", messages=user("Hi"))
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_nova_micro_refuses_an_image(runtime):
    content = [{"text": "What is this?"}, {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}]
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId="eu.amazon.nova-micro-v1:0", messages=[{"role": "user", "content": content}])
    assert "image" in raised.value.response["Error"]["Message"]


def test_max_tokens_over_the_models_output_limit_is_refused(runtime):
    with pytest.raises(ClientError) as raised:
        runtime.converse(
            modelId="eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            messages=user("Hi"),
            inferenceConfig={"maxTokens": 64_001},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_opus_4_7_refuses_a_thinking_budget_and_takes_adaptive_thinking(runtime):
    with pytest.raises(ClientError) as raised:
        runtime.converse(
            modelId="eu.anthropic.claude-opus-4-7",
            messages=user("Why?"),
            inferenceConfig={"maxTokens": 4000},
            additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 2000}},
        )
    assert "adaptive" in raised.value.response["Error"]["Message"]
    response = runtime.converse(
        modelId="eu.anthropic.claude-opus-4-7",
        messages=user("Why?"),
        inferenceConfig={"maxTokens": 4000},
        additionalModelRequestFields={"thinking": {"type": "adaptive"}},
    )
    assert "reasoningContent" in response["output"]["message"]["content"][0]


def test_get_inference_profile_answers_for_an_application_profile_arn(control):
    profile = control.get_inference_profile(inferenceProfileIdentifier=APP_ARN)
    assert profile["type"] == "APPLICATION" and profile["inferenceProfileArn"] == APP_ARN
    regions = {model["modelArn"].split(":")[3] for model in profile["models"]}
    assert "us-east-1" in regions and "eu-west-1" in regions  # copied from a global. profile
    assert {model["modelArn"].rsplit("/", 1)[-1] for model in profile["models"]} == {
        "anthropic.claude-haiku-4-5-20251001-v1:0"
    }


def test_an_unknown_application_profile_is_not_found(control):
    with pytest.raises(ClientError) as raised:
        control.get_inference_profile(
            inferenceProfileIdentifier=APP_ARN.replace("teamhaiku45gl", "nope00000000")
        )
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_current_models_are_listed_active_with_their_inference_types(control):
    summaries = {s["modelId"]: s for s in control.list_foundation_models()["modelSummaries"]}
    assert summaries[SONNET_45]["modelLifecycle"]["status"] == "ACTIVE"
    assert summaries[SONNET_45]["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert summaries["openai.gpt-oss-120b-1:0"]["inferenceTypesSupported"] == ["ON_DEMAND"]
    legacy = {model_id for model_id, s in summaries.items() if s["modelLifecycle"]["status"] == "LEGACY"}
    assert legacy == {
        "anthropic.claude-3-sonnet-20240229-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "amazon.titan-text-express-v1",
        "amazon.titan-text-lite-v1",
    }  # Claude 3 Opus and 3.5 Sonnet v2 (LEGACY too) are not listed in eu-west-1 at all


def test_every_catalogue_model_is_listed_somewhere():
    assert all(spec.availability.on_demand or spec.availability.profiles for spec in MODELS.values())


def test_cohere_embed_v4_answers_through_its_eu_profile_with_its_output_dimensions(runtime):
    def embed(**extra):
        body = orjson.dumps({"texts": ["Bonjour"], "input_type": "search_query", **extra})
        answer = runtime.invoke_model(modelId="eu.cohere.embed-v4:0", body=body)
        return orjson.loads(answer["body"].read())

    assert len(embed()["embeddings"][0]) == 1536
    assert len(embed(output_dimension=256)["embeddings"][0]) == 256
    with pytest.raises(ClientError) as raised:
        embed(output_dimension=300)
    assert "output_dimension" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize("model_id", NOT_IN_THE_EU)
def test_mistral_3_models_outside_the_eu_are_unknown_in_eu_west_1(runtime, model_id):
    with pytest.raises(ClientError) as raised:
        runtime.converse(modelId=model_id, messages=user("Bonjour"))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "The provided model identifier is invalid."
    assert model_id in MODELS  # served elsewhere (us-east-1, ...): the catalogue knows them


def test_an_in_region_cohere_embed_v4_embeds_from_eu_west_1(runtime):
    body = orjson.dumps({"texts": ["Bonjour"], "input_type": "search_document"})
    answer = orjson.loads(runtime.invoke_model(modelId="cohere.embed-v4:0", body=body)["body"].read())
    assert answer["embeddings"]
