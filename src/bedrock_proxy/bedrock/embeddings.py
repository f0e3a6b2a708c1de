"""OpenAI /embeddings <-> Bedrock InvokeModel bodies (Titan v1/v2, Titan multimodal, Cohere v3), pure.

Titan takes one string per call, so a list input becomes one body per string: the caller sends them
concurrently (bounded) and passes the answers back in the same order. Cohere takes up to 96 strings per call.
"""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass

from bedrock_proxy.bedrock.capabilities import base_model_id, capabilities_for
from bedrock_proxy.errors import invalid_request

COHERE_BATCH = 96
_COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
_TITAN_V2_DIMENSIONS = (256, 512, 1024)
_TITAN_IMAGE_DIMENSIONS = (256, 384, 1024)


@dataclass(slots=True)
class EmbeddingRequest:
    body: dict
    model: str
    inputs: list[str]
    dimensions: int | None = None
    encoding_format: str = "float"
    user: str | None = None
    input_type: str = "search_document"  # Cohere only; an extra field OpenAI does not define


def parse_embedding_request(body: object) -> EmbeddingRequest:
    """Check an OpenAI embeddings body; the error names the field to change."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object with 'model' and 'input'.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("'model' is required: send the model name as a non-empty string.", "model")
    raw = body.get("input")
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        inputs = raw
    else:
        raise invalid_request("'input' is required: send a string or a non-empty array of strings.", "input")
    for i, item in enumerate(inputs):
        if isinstance(item, int | list):
            raise invalid_request(
                "'input' holds token ids; Bedrock embedding models take text only: send the strings instead.",
                "input" if isinstance(raw, list) and isinstance(item, int) else f"input[{i}]",
            )
        if not isinstance(item, str):
            raise invalid_request(f"'input[{i}]' must be a string.", f"input[{i}]")
        if not item.strip():
            param = "input" if isinstance(raw, str) else f"input[{i}]"
            raise invalid_request(
                f"'{param}' is empty: Bedrock cannot embed an empty string; remove it.", param
            )
    request = EmbeddingRequest(body=body, model=model, inputs=inputs)
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise invalid_request("'dimensions' must be a positive integer.", "dimensions")
        request.dimensions = dimensions
    encoding = body.get("encoding_format")
    if encoding is not None:
        if encoding not in ("float", "base64"):
            raise invalid_request(
                f"'encoding_format' must be 'float' or 'base64', got {encoding!r}.", "encoding_format"
            )
        request.encoding_format = encoding
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise invalid_request("'user' must be a string.", "user")
    request.user = user
    input_type = body.get("input_type")
    if input_type is not None:
        if input_type not in _COHERE_INPUT_TYPES:
            raise invalid_request(
                f"'input_type' must be one of {', '.join(_COHERE_INPUT_TYPES)}; got {input_type!r}.",
                "input_type",
            )
        request.input_type = input_type
    return request


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


def embedding_calls(request: EmbeddingRequest, model_id: str) -> list[dict]:
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


def embedding_response(request: EmbeddingRequest, model: str, results: list[dict], model_id: str) -> dict:
    """OpenAI's embeddings list from the InvokeModel answers (same order as `embedding_calls`).

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
    as_base64 = request.encoding_format == "base64"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _base64_floats(vector) if as_base64 else vector,
        }
        for index, vector in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _base64_floats(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64: what the openai SDK decodes for encoding_format=base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


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
