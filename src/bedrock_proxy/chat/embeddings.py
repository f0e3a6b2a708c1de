"""An embeddings request and its result in the gateway's own terms (a client API parses into the first and
renders the second; the provider translates between them and its calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bedrock_proxy.chat.usage import Usage

COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")


@dataclass(slots=True)
class EmbeddingRequest:
    body: dict[str, Any]
    model: str
    inputs: list[str]
    dimensions: int | None = None
    encoding_format: str = "float"
    user: str | None = None
    input_type: str = "search_document"  # Cohere only; an extra field OpenAI does not define


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: list[list[float]]  # in input order
    usage: Usage
