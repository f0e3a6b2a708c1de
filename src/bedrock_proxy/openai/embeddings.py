"""OpenAI's /embeddings: its body parsed into the gateway's EmbeddingRequest, and the list it answers with."""

from __future__ import annotations

import base64
import struct
from typing import Any

from bedrock_proxy.chat.embeddings import COHERE_INPUT_TYPES, EmbeddingRequest, EmbeddingResult
from bedrock_proxy.errors import invalid_request


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
        if input_type not in COHERE_INPUT_TYPES:
            raise invalid_request(
                f"'input_type' must be one of {', '.join(COHERE_INPUT_TYPES)}; got {input_type!r}.",
                "input_type",
            )
        request.input_type = input_type
    return request


def embeddings_response(result: EmbeddingResult, model: str, encoding_format: str) -> dict[str, Any]:
    """OpenAI's embeddings list; `model` is the public name the client asked for."""
    as_base64 = encoding_format == "base64"
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _base64_floats(vector) if as_base64 else vector,
        }
        for index, vector in enumerate(result.vectors)
    ]
    tokens = result.usage.prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _base64_floats(vector: list[float]) -> str:
    """Little-endian float32 bytes, base64: what the openai SDK decodes for encoding_format=base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
