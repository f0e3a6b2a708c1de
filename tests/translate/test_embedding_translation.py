"""Embeddings: OpenAI input -> InvokeModel bodies per model, and the answers back in OpenAI's shape."""

from __future__ import annotations

import base64
import struct

import pytest
from openai.types import CreateEmbeddingResponse

from bedrock_proxy.bedrock.embeddings import (
    embedding_calls,
    embeddings_from_invoke,
    require_chat_model,
    require_embedding_model,
)
from bedrock_proxy.openai.embeddings import embeddings_response, parse_embedding_request

from .helpers import CLAUDE, expect_400

TITAN_V1 = "amazon.titan-embed-text-v1"
TITAN_V2 = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-multilingual-v3"


def embedding_response(request, model: str, results: list[dict], model_id: str) -> dict:
    """What the server answers: Bedrock's results read, then rendered in OpenAI's shape."""
    return embeddings_response(
        embeddings_from_invoke(request, results, model_id), model, request.encoding_format
    )


def embed(**body) -> dict:
    return {"model": "titan-embed-text-v2", "input": "hello", **body}


BAD_REQUESTS = [
    ("not-an-object", "hello", None),
    ("missing-model", {"input": "x"}, "model"),
    ("missing-input", {"model": "m"}, "input"),
    ("empty-list", embed(input=[]), "input"),
    ("number-input", embed(input=5), "input"),
    ("token-ids", embed(input=[1, 2, 3]), "input"),
    ("token-id-lists", embed(input=[[1, 2], [3]]), "input[0]"),
    ("empty-string", embed(input=""), "input"),
    ("blank-string-in-list", embed(input=["a", "  "]), "input[1]"),
    ("non-string-in-list", embed(input=["a", {"t": 1}]), "input[1]"),
    ("dimensions-string", embed(dimensions="256"), "dimensions"),
    ("dimensions-zero", embed(dimensions=0), "dimensions"),
    ("encoding-format-unknown", embed(encoding_format="int8"), "encoding_format"),
    ("user-number", embed(user=1), "user"),
    ("input-type-unknown", embed(input_type="query"), "input_type"),
]


@pytest.mark.parametrize(("body", "param"), [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
def test_client_mistakes_are_400s_naming_the_field(body, param):
    expect_400(parse_embedding_request, body, param=param)


def test_token_id_input_is_rejected_with_a_hint_to_send_text():
    assert (
        "send the strings" in expect_400(parse_embedding_request, embed(input=[1, 2]), param="input").message
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (embed(), (["hello"], None, "float", "search_document")),
        (embed(input=["a", "b"], dimensions=256), (["a", "b"], 256, "float", "search_document")),
        (
            embed(encoding_format="base64", input_type="search_query"),
            (["hello"], None, "base64", "search_query"),
        ),
    ],
    ids=["string", "list-with-dimensions", "base64-and-cohere-input-type"],
)
def test_valid_requests_are_parsed(body, expected):
    request = parse_embedding_request(body)
    assert (request.inputs, request.dimensions, request.encoding_format, request.input_type) == expected
    assert request.body is body


CALL_CASES = [
    (
        "titan-v1-one-call-per-string",
        TITAN_V1,
        embed(input=["a", "b"]),
        [{"inputText": "a"}, {"inputText": "b"}],
    ),
    (
        "titan-v2-defaults-to-1024-normalised",
        TITAN_V2,
        embed(input=["a", "b"]),
        [
            {"inputText": "a", "dimensions": 1024, "normalize": True},
            {"inputText": "b", "dimensions": 1024, "normalize": True},
        ],
    ),
    (
        "titan-v2-dimensions",
        TITAN_V2,
        embed(dimensions=256),
        [{"inputText": "hello", "dimensions": 256, "normalize": True}],
    ),
    (
        "titan-v2-through-an-inference-profile",
        f"eu.{TITAN_V2}",
        embed(dimensions=512),
        [{"inputText": "hello", "dimensions": 512, "normalize": True}],
    ),
    (
        "cohere-one-batch",
        COHERE,
        embed(input=["a", "b"], input_type="search_query"),
        [{"texts": ["a", "b"], "input_type": "search_query", "truncate": "NONE"}],
    ),
    (
        "titan-multimodal-dimensions",
        "amazon.titan-embed-image-v1",
        embed(dimensions=384),
        [{"inputText": "hello", "embeddingConfig": {"outputEmbeddingLength": 384}}],
    ),
]


@pytest.mark.parametrize(
    ("model_id", "body", "calls"), [c[1:] for c in CALL_CASES], ids=[c[0] for c in CALL_CASES]
)
def test_each_model_gets_its_own_invoke_model_bodies(model_id, body, calls):
    assert embedding_calls(parse_embedding_request(body), model_id) == calls


def test_cohere_inputs_are_batched_96_at_a_time_in_order():
    texts = [f"t{i}" for i in range(200)]
    calls = embedding_calls(parse_embedding_request(embed(input=texts)), COHERE)
    assert [len(c["texts"]) for c in calls] == [96, 96, 8]
    assert [t for c in calls for t in c["texts"]] == texts
    assert {c["input_type"] for c in calls} == {"search_document"}


@pytest.mark.parametrize(
    ("model_id", "dimensions"),
    [(TITAN_V1, 256), (TITAN_V2, 300), (TITAN_V2, 1536), (COHERE, 512), ("amazon.titan-embed-image-v1", 512)],
    ids=[
        "titan-v1-is-fixed",
        "titan-v2-odd-size",
        "titan-v2-too-large",
        "cohere-is-fixed",
        "titan-multimodal",
    ],
)
def test_unsupported_dimensions_are_a_400(model_id, dimensions):
    expect_400(
        embedding_calls, parse_embedding_request(embed(dimensions=dimensions)), model_id, param="dimensions"
    )


def test_a_chat_model_id_cannot_build_embedding_calls():
    expect_400(embedding_calls, parse_embedding_request(embed()), CLAUDE, param="model")


def test_titan_answers_become_an_openai_embedding_list_in_input_order():
    request = parse_embedding_request(embed(input=["a", "b"]))
    results = [
        {"embedding": [0.1, 0.2], "inputTextTokenCount": 3},
        {"embedding": [0.3, 0.4], "inputTextTokenCount": 4},
    ]
    response = embedding_response(request, "titan-embed-text-v2", results, TITAN_V2)
    CreateEmbeddingResponse.model_validate(response)
    assert response == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
        ],
        "model": "titan-embed-text-v2",
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }


def test_base64_encoding_is_little_endian_float32_as_the_openai_sdk_decodes_it():
    request = parse_embedding_request(embed(encoding_format="base64"))
    vector = [0.5, -1.25, 3.0]
    response = embedding_response(request, "m", [{"embedding": vector, "inputTextTokenCount": 1}], TITAN_V2)
    raw = base64.b64decode(response["data"][0]["embedding"])
    assert list(struct.unpack("<3f", raw)) == vector


def test_cohere_batches_are_flattened_and_tokens_come_from_the_header_copy_or_an_estimate():
    texts = [f"text {i:03d}" for i in range(100)]  # 8 characters each -> 2 estimated tokens
    request = parse_embedding_request(embed(input=texts))
    results = [
        {"embeddings": [[float(i)] for i in range(96)], "inputTextTokenCount": 500},
        {"embeddings": {"float": [[float(i)] for i in range(96, 100)]}},
    ]
    response = embedding_response(request, "cohere", results, COHERE)
    CreateEmbeddingResponse.model_validate(response)
    assert [d["index"] for d in response["data"]] == list(range(100))
    assert [d["embedding"][0] for d in response["data"]] == [float(i) for i in range(100)]
    assert response["usage"] == {"prompt_tokens": 508, "total_tokens": 508}


@pytest.mark.parametrize(
    ("check", "model_id"),
    [(require_embedding_model, CLAUDE), (require_chat_model, TITAN_V2), (require_chat_model, COHERE)],
    ids=["chat-model-on-embeddings", "titan-embedding-on-chat", "cohere-embedding-on-chat"],
)
def test_using_a_model_on_the_wrong_route_is_a_400_naming_the_model(check, model_id):
    error = expect_400(check, "public-name", model_id, param="model")
    assert "'public-name'" in error.message


@pytest.mark.parametrize(
    ("check", "model_id"),
    [
        (require_embedding_model, TITAN_V2),
        (require_chat_model, CLAUDE),
        (require_chat_model, "amazon.nova-pro-v1:0"),
    ],
    ids=["embedding-model-on-embeddings", "chat-model-on-chat", "unknown-model-on-chat"],
)
def test_models_on_their_own_route_pass(check, model_id):
    assert check("public-name", model_id) is None
