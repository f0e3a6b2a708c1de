"""InvokeModel with each family's native body: text models and embeddings, and malformed bodies."""

from __future__ import annotations

import math

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import HAIKU, raw_post

TITAN_V1 = "amazon.titan-embed-text-v1"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-multilingual-v3"


def invoke(runtime, model_id: str, body: dict) -> tuple[dict, dict]:
    response = runtime.invoke_model(
        modelId=model_id, body=orjson.dumps(body), contentType="application/json", accept="application/json"
    )
    return orjson.loads(response["body"].read()), response


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_titan_text_answers_in_its_native_shape(runtime):
    body, response = invoke(
        runtime,
        "amazon.titan-text-express-v1",
        {
            "inputText": "User: Bonjour le monde\nBot:",
            "textGenerationConfig": {"maxTokenCount": 50, "temperature": 0.2},
        },
    )
    [result] = body["results"]
    assert "Bonjour le monde" in result["outputText"]
    assert result["completionReason"] == "FINISH"
    assert result["tokenCount"] == (len(result["outputText"]) + 3) // 4
    assert body["inputTextTokenCount"] > 0
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-output-token-count"] == str(result["tokenCount"])
    assert response["contentType"] == "application/json"


def test_titan_text_reports_length_when_cut(runtime):
    body, _ = invoke(
        runtime,
        "amazon.titan-text-lite-v1",
        {"inputText": "x " * 200, "textGenerationConfig": {"maxTokenCount": 2}},
    )
    assert body["results"][0]["completionReason"] == "LENGTH"


def test_anthropic_messages_body_gets_an_anthropic_message(runtime):
    body, _ = invoke(
        runtime,
        HAIKU,
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "system": "Be terse.",
            "messages": [{"role": "user", "content": "Bonjour, comment vas-tu?"}],
        },
    )
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_bdrk_")
    assert body["content"][0]["type"] == "text" and "Bonjour" in body["content"][0]["text"]
    assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    assert set(body["usage"]) == {"input_tokens", "output_tokens"}


def test_anthropic_messages_body_with_tools_gets_a_tool_use_block(runtime):
    body, _ = invoke(
        runtime,
        HAIKU,
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]}
            ],
            "tools": [
                {
                    "name": "get_weather",
                    "description": "Current weather of a city",
                    "input_schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                }
            ],
        },
    )
    assert body["stop_reason"] == "tool_use"
    block = body["content"][0]
    assert (
        block["type"] == "tool_use" and block["name"] == "get_weather" and block["input"] == {"city": "Paris"}
    )
    assert block["id"].startswith("toolu_bdrk_")


def test_llama_and_mistral_native_bodies(runtime):
    llama, _ = invoke(
        runtime, "eu.meta.llama3-2-1b-instruct-v1:0", {"prompt": "Salut Llama", "max_gen_len": 64}
    )
    assert "Salut Llama" in llama["generation"] and llama["stop_reason"] == "stop"
    assert llama["generation_token_count"] == (len(llama["generation"]) + 3) // 4
    mistral, _ = invoke(
        runtime, "mistral.mixtral-8x7b-instruct-v0:1", {"prompt": "<s>[INST] Salut Mistral [/INST]"}
    )
    assert "Salut Mistral" in mistral["outputs"][0]["text"] and mistral["outputs"][0]["stop_reason"] == "stop"


@pytest.mark.parametrize(
    ("model_id", "body", "message"),
    [
        (HAIKU, {"max_tokens": 10, "messages": []}, "required key [anthropic_version] not found"),
        (
            HAIKU,
            {"anthropic_version": "bedrock-2023-05-31", "messages": []},
            "required key [max_tokens] not found",
        ),
        ("amazon.titan-text-express-v1", {"prompt": "hi"}, "required key [inputText] not found"),
        (
            "amazon.titan-text-express-v1",
            {"inputText": "hi", "textGenerationConfig": {"temperature": 1.5}},
            "is not less or equal to 1",
        ),
        (TITAN_V1, {"inputText": "hi", "dimensions": 256}, "extraneous key [dimensions] is not permitted"),
        (TITAN_V2, {"inputText": "hi", "dimensions": 300}, "300 is not a valid enum value"),
        (TITAN_V2, {"inputText": ""}, "expected minLength: 1"),
        (COHERE, {"texts": ["a"] * 97, "input_type": "search_document"}, "expected maximum item count: 96"),
        (COHERE, {"texts": ["a"], "input_type": "chat"}, "is not a valid enum value"),
    ],
)
def test_malformed_native_bodies_get_bedrocks_validation_error(runtime, model_id, body, message):
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        invoke(runtime, model_id, body)
    assert "Malformed input request" in caught.value.response["Error"]["Message"]
    assert message in caught.value.response["Error"]["Message"]


def test_a_body_that_is_not_json_gets_a_validation_error_not_a_crash(open_emulator):
    status, headers, body = raw_post(open_emulator.url, f"/model/{HAIKU}/converse", b"{not json")
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
    assert b"Malformed input request" in body


def test_a_body_over_25_mb_gets_a_validation_error(open_emulator):
    status, headers, body = raw_post(open_emulator.url, f"/model/{HAIKU}/invoke", b" " * 25_000_001)
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
    assert b"25000000" in body


def test_a_signed_body_over_25_mb_gets_the_same_validation_error(runtime):
    """The signature covers a body the emulator dropped: the size limit answers, not a crash."""
    with pytest.raises(ClientError) as caught:
        runtime.invoke_model(modelId=HAIKU, body=b" " * 25_000_001)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationException"
    assert "25000000" in error["Error"]["Message"]


@pytest.mark.parametrize(("dimensions", "normalize"), [(1024, True), (512, True), (256, False)])
def test_titan_v2_embeddings_have_the_requested_dimension(runtime, dimensions, normalize):
    body, _ = invoke(
        runtime,
        TITAN_V2,
        {"inputText": "Texte à vectoriser", "dimensions": dimensions, "normalize": normalize},
    )
    assert len(body["embedding"]) == dimensions
    assert body["embeddingsByType"]["float"] == body["embedding"]
    norm = math.sqrt(sum(v * v for v in body["embedding"]))
    assert (abs(norm - 1) < 1e-6) is normalize
    assert body["inputTextTokenCount"] == (len("Texte à vectoriser") + 3) // 4


def test_titan_v2_binary_embeddings(runtime):
    body, _ = invoke(
        runtime, TITAN_V2, {"inputText": "hello", "dimensions": 256, "embeddingTypes": ["binary"]}
    )
    assert set(body["embeddingsByType"]["binary"]) <= {0, 1}
    assert len(body["embeddingsByType"]["binary"]) == 256
    assert "embedding" not in body


def test_titan_v1_embeddings_have_1536_dimensions(runtime):
    body, _ = invoke(runtime, TITAN_V1, {"inputText": "Texte à vectoriser"})
    assert len(body["embedding"]) == 1536 and body["inputTextTokenCount"] > 0


def test_embeddings_are_stable_and_similar_texts_are_closer(runtime):
    def vector(text: str) -> list[float]:
        return invoke(runtime, TITAN_V2, {"inputText": text})[0]["embedding"]

    cat = vector("The cat sat on the mat")
    assert cat == vector("The cat sat on the mat")
    assert (
        cosine(cat, vector("A cat was sitting on the mat"))
        > cosine(cat, vector("Quarterly revenue grew 10%")) + 0.2
    )


def test_cohere_returns_float_embeddings_for_each_text(runtime):
    texts = ["Bonjour le monde", "Hello world", "Bonjour tout le monde"]
    body, _ = invoke(runtime, COHERE, {"texts": texts, "input_type": "search_document", "truncate": "END"})
    assert body["response_type"] == "embeddings_floats"
    assert body["texts"] == texts and body["id"]
    assert [len(v) for v in body["embeddings"]] == [1024] * 3
    assert cosine(body["embeddings"][0], body["embeddings"][2]) > cosine(
        body["embeddings"][0], body["embeddings"][1]
    )


def test_cohere_returns_embeddings_by_type_when_asked(runtime):
    body, _ = invoke(
        runtime, COHERE, {"texts": ["hi"], "input_type": "search_query", "embedding_types": ["float", "int8"]}
    )
    assert body["response_type"] == "embeddings_by_type"
    assert len(body["embeddings"]["float"][0]) == len(body["embeddings"]["int8"][0]) == 1024
    assert all(-128 <= v <= 127 for v in body["embeddings"]["int8"][0])
