"""The gateway's EmbeddingRequest <-> Bedrock InvokeModel bodies (Titan v1/v2, Titan multimodal, Cohere v3),
pure. `openai.embeddings` parses the client's body and renders the result.

Titan takes one string per call, so a list input becomes one body per string: the caller sends them
concurrently (bounded) and passes the answers back in the same order. Cohere takes up to 96 strings per call.
"""

from __future__ import annotations

import math
from typing import Any

from bedrock_proxy.bedrock.capabilities import base_model_id, capabilities_for
from bedrock_proxy.chat.embeddings import EmbeddingRequest, EmbeddingResult
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.errors import invalid_request

COHERE_BATCH = 96
_TITAN_V2_DIMENSIONS = (256, 512, 1024)
_TITAN_IMAGE_DIMENSIONS = (256, 384, 1024)


def _variant(model_id: str) -> str:
    family = capabilities_for(model_id).family
    mid = base_model_id(model_id).lower()
    if family == "titan-embed":
        if "image" in mid:
            return "titan-image"
        return "titan-v2" if "text-v2" in mid else "titan-v1"
    if family == "cohere-embed":
        return "cohere"
    return "unknown"


def embedding_calls(request: EmbeddingRequest, model_id: str) -> list[dict[str, Any]]:
    """The InvokeModel bodies, in input order."""
    variant = _variant(model_id)
    dims = request.dimensions
    if variant == "titan-v1":
        if dims is not None and dims != 1536:
            raise invalid_request(
                f"Model {model_id} returns 1536 dimensions and cannot change it: remove 'dimensions' or use"
                " amazon.titan-embed-text-v2:0 (256, 512 or 1024).",
                "dimensions",
            )
        return [{"inputText": text} for text in request.inputs]
    if variant == "titan-v2":
        if dims is None:
            dims = 1024
        elif dims not in _TITAN_V2_DIMENSIONS:
            raise invalid_request(
                f"Model {model_id} supports 'dimensions' 256, 512 or 1024, got {dims}.", "dimensions"
            )
        return [{"inputText": text, "dimensions": dims, "normalize": True} for text in request.inputs]
    if variant == "titan-image":
        if dims is not None and dims not in _TITAN_IMAGE_DIMENSIONS:
            raise invalid_request(
                f"Model {model_id} supports 'dimensions' 256, 384 or 1024, got {dims}.", "dimensions"
            )
        extra = {"embeddingConfig": {"outputEmbeddingLength": dims}} if dims else {}
        return [{"inputText": text, **extra} for text in request.inputs]
    if variant == "cohere":
        if dims is not None and dims != 1024:
            raise invalid_request(
                f"Model {model_id} returns 1024 dimensions and cannot change it: remove 'dimensions'.",
                "dimensions",
            )
        return [
            {
                "texts": request.inputs[i : i + COHERE_BATCH],
                "input_type": request.input_type,
                "truncate": "NONE",
            }
            for i in range(0, len(request.inputs), COHERE_BATCH)
        ]
    raise invalid_request(
        f"Model {model_id} is not an embedding model this gateway knows how to call.", "model"
    )


def embeddings_from_invoke(
    request: EmbeddingRequest, results: list[dict[str, Any]], model_id: str
) -> EmbeddingResult:
    """The vectors and token count of the InvokeModel answers (same order as `embedding_calls`).

    Token counts come from Titan's inputTextTokenCount. Cohere's body has none: the caller may copy the
    `X-Amzn-Bedrock-Input-Token-Count` response header into the result as `inputTextTokenCount`; without it
    the count is estimated at one token per 4 characters, so spend is never recorded as zero.
    """
    vectors: list[list[float]] = []
    tokens = 0
    cohere = _variant(model_id) == "cohere"
    for position, result in enumerate(results):
        if cohere:
            embeddings = result.get("embeddings")
            if isinstance(embeddings, dict):  # embedding_types requested: {"float": [...]}
                embeddings = embeddings.get("float")
            vectors.extend(embeddings or [])
            counted = result.get("inputTextTokenCount")
            if counted is None:
                start = position * COHERE_BATCH
                counted = sum(math.ceil(len(t) / 4) for t in request.inputs[start : start + COHERE_BATCH])
            tokens += counted
        else:
            vectors.append(result.get("embedding") or [])
            tokens += result.get("inputTextTokenCount") or 0
    return EmbeddingResult(vectors, Usage(prompt_tokens=tokens))


def require_embedding_model(model_name: str, model_id: str) -> None:
    """Reject /embeddings calls to a chat model, naming the public model."""
    if not capabilities_for(model_id).embedding:
        raise invalid_request(
            f"Model {model_name!r} ({model_id}) is a chat model, not an embedding model: use it on"
            " /chat/completions, or pick an embedding model for /embeddings.",
            "model",
        )


def require_chat_model(model_name: str, model_id: str) -> None:
    """Reject /chat/completions calls to an embedding model, naming the public model."""
    if capabilities_for(model_id).embedding:
        raise invalid_request(
            f"Model {model_name!r} ({model_id}) is an embedding model: call it on /embeddings, or pick a chat"
            " model for /chat/completions.",
            "model",
        )
