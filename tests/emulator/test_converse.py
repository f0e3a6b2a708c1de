"""Converse through the real boto3 client: answers, usage, limits, and Bedrock's refusals."""

from __future__ import annotations

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import HAIKU, user

TITAN_LITE = "amazon.titan-text-lite-v1"
IMAGE = {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n\x1a\nfake"}}}


def test_converse_answers_with_text_derived_from_the_prompt(runtime):
    response = runtime.converse(modelId=HAIKU, messages=user("Bonjour, comment vas-tu?"))
    text = response["output"]["message"]["content"][0]["text"]
    assert response["output"]["message"]["role"] == "assistant"
    assert "Bonjour, comment vas-tu?" in text
    assert response["stopReason"] == "end_turn"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert isinstance(response["metrics"]["latencyMs"], int)


def test_the_same_prompt_gives_the_same_answer_and_usage(runtime):
    first = runtime.converse(modelId=HAIKU, messages=user("Explique-moi l'IA en 3 phrases"))
    second = runtime.converse(modelId=HAIKU, messages=user("Explique-moi l'IA en 3 phrases"))
    assert first["output"] == second["output"]
    assert first["usage"] == second["usage"]


def test_usage_is_consistent_with_the_text(runtime):
    prompt = "word " * 40
    response = runtime.converse(modelId=HAIKU, messages=user(prompt))
    usage = response["usage"]
    text = response["output"]["message"]["content"][0]["text"]
    assert usage["inputTokens"] == (len(prompt) + 3) // 4
    assert usage["outputTokens"] == (len(text) + 3) // 4
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_count_tokens_agrees_with_converse_usage(runtime):
    request = {
        "system": [{"text": "Be terse."}],
        "messages": user("How many tokens is this sentence, roughly?"),
    }
    counted = runtime.count_tokens(modelId=HAIKU, input={"converse": request})["inputTokens"]
    used = runtime.converse(modelId=HAIKU, **request)["usage"]["inputTokens"]
    assert counted == used > 0


def test_count_tokens_accepts_a_native_invoke_body(runtime):
    body = orjson.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert runtime.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": body}})["inputTokens"] >= 1


def test_max_tokens_cuts_the_answer(runtime):
    response = runtime.converse(
        modelId=HAIKU, messages=user("a long prompt " * 20), inferenceConfig={"maxTokens": 3}
    )
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] <= 3


def test_stop_sequence_ends_the_answer_before_it(runtime):
    response = runtime.converse(
        modelId=HAIKU,
        messages=user("first part STOP second part"),
        inferenceConfig={"stopSequences": ["STOP"]},
    )
    text = response["output"]["message"]["content"][0]["text"]
    assert response["stopReason"] == "stop_sequence"
    assert "STOP" not in text and "second" not in text


def test_text_control_forces_the_number_of_words(runtime):
    response = runtime.converse(modelId=HAIKU, messages=user("hello [[emu:text=50]]"))
    text = response["output"]["message"]["content"][0]["text"]
    assert len(text.split()) == 50
    assert "[[emu" not in text


def test_inference_profiles_and_arns_are_accepted(runtime):
    for model_id in (
        "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
    ):
        assert runtime.converse(modelId=model_id, messages=user("hi"))["stopReason"] == "end_turn"


@pytest.mark.parametrize(
    "model_id",
    [
        # AWS lists no EU profile for these two: following "use the eu. id" must not work here either
        "eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "eu.anthropic.claude-3-opus-20240229-v1:0",
        # nor are they served on-demand in eu-west-1, nor callable through their US profile from it
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "anthropic.claude-3-opus-20240229-v1:0",
        "us.anthropic.claude-3-opus-20240229-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-opus-20240229-v1:0",
    ],
)
def test_models_and_profiles_not_offered_in_eu_west_1_are_invalid_identifiers(runtime, model_id):
    error = _refusal(runtime, modelId=model_id, messages=user("hi"))
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == "The provided model identifier is invalid."


def _refusal(runtime, **request) -> ClientError:
    with pytest.raises(ClientError) as caught:
        runtime.converse(**request)
    return caught.value


@pytest.mark.parametrize(
    ("request_fields", "message_part"),
    [
        ({"modelId": "anthropic.claude-9-v1:0"}, "The provided model identifier is invalid."),
        (
            {"modelId": "us.anthropic.claude-3-haiku-20240307-v1:0"},
            "The provided model identifier is invalid.",
        ),
        (
            {"modelId": "anthropic.claude-3-7-sonnet-20250219-v1:0"},
            "with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an",
        ),
        ({"inferenceConfig": {"temperature": 1.5}}, "Member must have value less than or equal to 1"),
        ({"inferenceConfig": {"topP": 1.01}}, "inferenceConfig.topP"),
        ({"inferenceConfig": {"maxTokens": 100_000}}, "exceeds the model limit of 4096"),
        (
            {"messages": [{"role": "system", "content": [{"text": "x"}]}]},
            "Member must satisfy enum value set",
        ),
        ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "must start with a user message"),
        ({"messages": user("a") + user("b")}, "must alternate between user and assistant"),
        (
            {"messages": [{"role": "user", "content": []}]},
            "content field in the Message object at messages.0",
        ),
        ({"messages": []}, "must start with a user message"),
        (
            {"messages": [{"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": []}}]}]},
            "toolConfig field must be defined",
        ),
    ],
)
def test_invalid_requests_get_bedrocks_validation_error(runtime, request_fields, message_part):
    request = {"modelId": HAIKU, "messages": user("hello"), **request_fields}
    error = _refusal(runtime, **request)
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message_part in error.response["Error"]["Message"]


def test_validation_errors_are_the_sdk_exception_class(runtime):
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.converse(modelId=HAIKU, messages=user("hi"), inferenceConfig={"temperature": 2})


WEATHER_TOOL = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Weather of a city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
            }
        }
    ]
}


@pytest.mark.parametrize(
    ("model_id", "extra", "message"),
    [
        (TITAN_LITE, {"system": [{"text": "Be terse."}]}, "doesn't support system messages"),
        ("amazon.titan-text-express-v1", {"toolConfig": WEATHER_TOOL}, "doesn't support tool use."),
        ("mistral.mistral-7b-instruct-v0:2", {"system": [{"text": "Be terse."}]}, "doesn't support system"),
        ("mistral.mixtral-8x7b-instruct-v0:1", {"toolConfig": WEATHER_TOOL}, "doesn't support tool use."),
        (
            "eu.meta.llama3-2-3b-instruct-v1:0",
            {"toolConfig": {**WEATHER_TOOL, "toolChoice": {"any": {}}}},
            "doesn't support the toolConfig.toolChoice.any field. Remove toolConfig.toolChoice.any",
        ),
        (
            "mistral.mistral-large-2402-v1:0",
            {"toolConfig": {**WEATHER_TOOL, "toolChoice": {"tool": {"name": "get_weather"}}}},
            "doesn't support the toolConfig.toolChoice.tool field",
        ),
        (
            "eu.meta.llama3-2-1b-instruct-v1:0",
            {"messages": [{"role": "user", "content": [IMAGE]}]},
            "image content",
        ),
        ("mistral.mistral-large-2402-v1:0", {"messages": [{"role": "user", "content": [IMAGE]}]}, "image"),
        ("amazon.titan-embed-text-v2:0", {}, "doesn't support the model that you provided"),
        ("cohere.embed-english-v3", {}, "Try again with a supported text or chat model"),
    ],
)
def test_models_refuse_what_they_do_not_support(runtime, model_id, extra, message):
    request = {"modelId": model_id, "messages": user("hello"), **extra}
    error = _refusal(runtime, **request)
    assert error.response["Error"]["Code"] == "ValidationException"
    assert message in error.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("model_id", "extra"),
    [
        (
            "eu.meta.llama3-2-3b-instruct-v1:0",
            {"system": [{"text": "Be terse."}], "toolConfig": WEATHER_TOOL},
        ),
        ("mistral.mistral-large-2402-v1:0", {"toolConfig": {**WEATHER_TOOL, "toolChoice": {"auto": {}}}}),
        (HAIKU, {"messages": [{"role": "user", "content": [{"text": "what is this?"}, IMAGE]}]}),
        (HAIKU, {"toolConfig": {**WEATHER_TOOL, "toolChoice": {"any": {}}}}),
    ],
)
def test_models_accept_what_they_support(runtime, model_id, extra):
    request = {"modelId": model_id, "messages": user("hello"), **extra}
    assert runtime.converse(**request)["stopReason"] in ("end_turn", "tool_use")


def test_input_over_the_context_window_gets_bedrocks_error(runtime):
    long_prompt = "token " * 4000  # about 6,000 tokens: over Titan Text Lite's 4K window
    error = _refusal(runtime, modelId=TITAN_LITE, messages=user(long_prompt))
    assert error.response["Error"]["Message"] == "Input is too long for requested model."
    assert runtime.converse(modelId=HAIKU, messages=user(long_prompt))["stopReason"] == "end_turn"


def test_assistant_prefill_is_answered(runtime):
    messages = [*user("Say hello"), {"role": "assistant", "content": [{"text": "Hello"}]}]
    assert runtime.converse(modelId=HAIKU, messages=messages)["output"]["message"]["content"][0]["text"]


def test_count_tokens_is_refused_for_models_without_it(runtime):
    with pytest.raises(runtime.exceptions.ValidationException, match="doesn't support counting tokens"):
        runtime.count_tokens(
            modelId="amazon.titan-text-lite-v1", input={"converse": {"messages": user("hi")}}
        )
