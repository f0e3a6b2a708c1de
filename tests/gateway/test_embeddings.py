"""Embeddings end to end: string and list inputs, Titan v1/v2 and Cohere, dimensions, float and base64,
lists sent as concurrent but bounded upstream calls, answers in input order."""

from __future__ import annotations

import base64
import math
import struct
import time

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import EMBEDDING_LATENCY, assert_openai_error, call, emulator_stats

TEXTS = ["Le chat dort sur le canapé", "Paris est la capitale de la France", "Les marées suivent la lune"]


@pytest.mark.parametrize("path", ["/v1/embeddings", "/embeddings"])
def test_both_embedding_paths_answer_in_openai_shape(gateway_url: str, path: str) -> None:
    status, _, body = call(f"{gateway_url}{path}", {"model": "titan-embed-text-v2", "input": "Bonjour"})
    assert status == 200, body
    assert body["object"] == "list" and body["model"] == "titan-embed-text-v2"
    (item,) = body["data"]
    assert item["object"] == "embedding" and item["index"] == 0 and len(item["embedding"]) == 1024
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "dimensions", "expected"),
    [
        ("titan-embed-text", None, 1536),
        ("titan-embed-text-v2", None, 1024),
        ("titan-embed-text-v2", 512, 512),
        ("titan-embed-text-v2", 256, 256),
        ("cohere-embed", None, 1024),
    ],
    ids=["titan-v1", "titan-v2", "titan-v2-512", "titan-v2-256", "cohere"],
)
def test_each_embedding_model_returns_its_dimensions(
    client: OpenAI, model: str, dimensions: int | None, expected: int
) -> None:
    extra = {"dimensions": dimensions} if dimensions else {}
    response = client.embeddings.create(model=model, input=TEXTS, encoding_format="float", **extra)
    assert [item.index for item in response.data] == [0, 1, 2]
    assert {len(item.embedding) for item in response.data} == {expected}


@pytest.mark.parametrize("model", ["titan-embed-text", "titan-embed-text-v2", "cohere-embed"])
def test_a_list_comes_back_in_input_order(client: OpenAI, model: str) -> None:
    inputs = [f"phrase numéro {i} sur le thème {word}" for i, word in enumerate("abcdefghijklmnopqrst")]
    together = client.embeddings.create(model=model, input=inputs, encoding_format="float")
    alone = [
        client.embeddings.create(model=model, input=text, encoding_format="float") for text in inputs[:4]
    ]
    for index, single in enumerate(alone):
        assert together.data[index].embedding == pytest.approx(single.data[0].embedding)
    assert [item.index for item in together.data] == list(range(len(inputs)))


def test_titan_list_inputs_are_one_upstream_call_each(client: OpenAI, emulator_url: str) -> None:
    before = emulator_stats(emulator_url)["by_operation"].get("InvokeModel", 0)
    client.embeddings.create(model="titan-embed-text-v2", input=TEXTS * 4, encoding_format="float")
    assert emulator_stats(emulator_url)["by_operation"]["InvokeModel"] - before == 12


def test_a_long_list_is_sent_concurrently_with_a_bound(special_client: OpenAI) -> None:
    # 250 inputs at EMBEDDING_LATENCY each: one after another would take over a minute; unbounded, one
    # round trip; with the gateway's bound (100 at once) three rounds.
    inputs = [f"texte {i}" for i in range(250)]
    started = time.monotonic()
    response = special_client.embeddings.create(
        model="slow-titan-embed", input=inputs, encoding_format="float"
    )
    elapsed = time.monotonic() - started
    assert len(response.data) == 250
    assert elapsed >= 2 * EMBEDDING_LATENCY, "more than one round: the concurrency is bounded"
    assert elapsed < 250 * EMBEDDING_LATENCY / 10, "far less than one call after another"


def test_base64_encoding_carries_the_same_floats(gateway_url: str) -> None:
    url = f"{gateway_url}/v1/embeddings"
    _, _, floats = call(url, {"model": "titan-embed-text-v2", "input": "Bonjour", "encoding_format": "float"})
    _, _, packed = call(
        url, {"model": "titan-embed-text-v2", "input": "Bonjour", "encoding_format": "base64"}
    )
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert list(decoded) == pytest.approx(floats["data"][0]["embedding"], rel=1e-6)


def test_the_sdk_default_base64_path_decodes_to_unit_vectors(client: OpenAI) -> None:
    response = client.embeddings.create(model="titan-embed-text-v2", input=TEXTS)  # SDK asks for base64
    for item in response.data:
        assert math.isclose(math.sqrt(sum(x * x for x in item.embedding)), 1.0, rel_tol=1e-3)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "titan-embed-text-v2", "input": ""}, "input"),
        ({"model": "titan-embed-text-v2", "input": []}, "input"),
        ({"model": "titan-embed-text-v2", "input": [1, 2, 3]}, "input"),
        ({"model": "titan-embed-text-v2", "input": ["ok", 7.5]}, "input[1]"),
        ({"model": "titan-embed-text-v2", "input": "x", "dimensions": 300}, "dimensions"),
        ({"model": "titan-embed-text", "input": "x", "dimensions": 256}, "dimensions"),
        ({"model": "titan-embed-text-v2", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "claude-3-haiku", "input": "x"}, "model"),
    ],
    ids=[
        "empty",
        "empty-list",
        "token-ids",
        "number-in-list",
        "v2-dims",
        "v1-dims",
        "encoding",
        "chat-model",
    ],
)
def test_bad_embedding_requests_are_a_400_naming_the_field(gateway_url: str, body: dict, param: str) -> None:
    status, _, answer = call(f"{gateway_url}/v1/embeddings", body)
    assert status == 400
    assert_openai_error(answer, param=param)


def test_an_embedding_model_on_chat_completions_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="embedding model"):
        client.chat.completions.create(
            model="titan-embed-text-v2", messages=[{"role": "user", "content": "x"}]
        )
