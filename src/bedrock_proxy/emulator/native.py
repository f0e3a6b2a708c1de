"""InvokeModel bodies in each model family's native format: parse to a `Turn`, render an `Answer` back.

Families: Anthropic messages on Bedrock, Titan Text, Llama, Mistral (text); Titan and Cohere (embeddings).
Streaming variants return the model's own chunk shapes; the app wraps each as a `chunk` event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bedrock_proxy.emulator import errors
from bedrock_proxy.emulator.catalogue import ModelSpec
from bedrock_proxy.emulator.controls import MARKER_TEXT, take_marker
from bedrock_proxy.emulator.conversation import Answer, Turn, validate
from bedrock_proxy.emulator.embeddings import binary, embed, int8, packed_bits
from bedrock_proxy.emulator.errors import malformed, validation
from bedrock_proxy.emulator.textgen import estimate_tokens, split_deltas

_TEMPLATE_TOKENS = re.compile(r"<\|[^|>]*\|>|\[/?INST\]|</?s>")
_COHERE_INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
_COHERE_TYPES = frozenset({"float", "int8", "uint8", "binary", "ubinary"})


def _require(body: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise malformed("expected type: JSONObject")
    for key in keys:
        if key not in body:
            raise malformed(f"#: required key [{key}] not found")
    return body


def _bounded(body: dict[str, Any], key: str, path: str, low: float = 0.0, high: float = 1.0) -> None:
    value = body.get(key)
    if value is None:
        return
    if not isinstance(value, int | float) or value < low:
        raise malformed(f"#/{path}: {value} is not greater or equal to {low:g}")
    if value > high:
        raise malformed(f"#/{path}: {value} is not less or equal to {high:g}")


def _positive_int(body: dict[str, Any], key: str, path: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise malformed(f"#/{path}: {value} is not greater or equal to 1")
    return value


def _plain_turn(prompt: str, max_tokens: int, stops: list[str], spec: ModelSpec) -> Turn:
    cleaned = _TEMPLATE_TOKENS.sub(" ", prompt)
    cleaned, marker = take_marker(cleaned) if MARKER_TEXT in cleaned else (cleaned, None)
    for role in ("user", "assistant", "system"):
        cleaned = cleaned.replace(f" {role}\n", " ")
    return Turn(" ".join(cleaned.split()), max(1, estimate_tokens(prompt)), max_tokens, stops, marker=marker)


# --- Anthropic messages API on Bedrock -------------------------------------------------------------------


def _anthropic_block(block: Any) -> dict[str, Any]:
    if isinstance(block, str):
        return {"text": block}
    if not isinstance(block, dict):
        raise malformed("#/messages: expected type: JSONObject")
    kind = block.get("type")
    if kind == "text":
        return {"text": block.get("text", "")}
    if kind == "image":
        media = (block.get("source") or {}).get("media_type", "image/png")
        return {"image": {"format": media.split("/")[-1], "source": {"bytes": b""}}}
    if kind == "tool_use":
        return {
            "toolUse": {
                "toolUseId": block.get("id", ""),
                "name": block.get("name"),
                "input": block.get("input"),
            }
        }
    if kind == "tool_result":
        content = block.get("content", "")
        items = [{"text": content}] if isinstance(content, str) else content
        return {"toolResult": {"toolUseId": block.get("tool_use_id", ""), "content": items}}
    if kind == "document":
        return {"document": {"format": "pdf", "name": "doc", "source": {"bytes": b""}}}
    raise malformed(f"#/messages: unknown content type [{kind}]")


def _anthropic_message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        return {"role": None, "content": []}
    content = message.get("content")
    blocks = [content] if isinstance(content, str) else content if isinstance(content, list) else []
    return {"role": message.get("role"), "content": [_anthropic_block(b) for b in blocks]}


def _anthropic_to_converse(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise malformed("#/messages: expected type: JSONArray")
    converse: dict[str, Any] = {
        "messages": [_anthropic_message(m) for m in messages],
        "inferenceConfig": {
            "maxTokens": body["max_tokens"],
            **({"temperature": body["temperature"]} if "temperature" in body else {}),
            **({"topP": body["top_p"]} if "top_p" in body else {}),
            **({"stopSequences": body["stop_sequences"]} if "stop_sequences" in body else {}),
        },
    }
    system = body.get("system")
    if system:
        texts = (
            [system]
            if isinstance(system, str)
            else [b.get("text", "") for b in system if isinstance(b, dict)]
        )
        converse["system"] = [{"text": t} for t in texts]
    if body.get("tools"):
        tool_config: dict[str, Any] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.get("name"),
                        "description": t.get("description", ""),
                        "inputSchema": {"json": t.get("input_schema") or {"type": "object"}},
                    }
                }
                for t in body["tools"]
                if isinstance(t, dict)
            ]
        }
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") in ("auto", "any"):
            tool_config["toolChoice"] = {choice["type"]: {}}
        elif isinstance(choice, dict) and choice.get("type") == "tool":
            tool_config["toolChoice"] = {"tool": {"name": choice.get("name")}}
        converse["toolConfig"] = tool_config
    return converse


def _anthropic_parse(body: Any, spec: ModelSpec, streaming: bool) -> Turn:
    body = _require(body, "anthropic_version", "max_tokens", "messages")
    if body["anthropic_version"] != "bedrock-2023-05-31":
        raise errors.validation(
            f"Invalid anthropic_version: {body['anthropic_version']!r}. Use bedrock-2023-05-31."
        )
    _positive_int(body, "max_tokens", "max_tokens")
    _bounded(body, "temperature", "temperature")
    _bounded(body, "top_p", "top_p")
    return validate(_anthropic_to_converse(body), spec, streaming=False)


def _short_model(spec: ModelSpec) -> str:
    return spec.model_id.split(".", 1)[-1].split("-v", 1)[0] if "claude-3" in spec.model_id else spec.model_id


def _anthropic_content(answer: Answer) -> list[dict[str, Any]]:
    content = []
    for block in answer.blocks:
        if "toolUse" in block:
            tool = block["toolUse"]
            content.append(
                {
                    "type": "tool_use",
                    "id": tool["toolUseId"].replace("tooluse_", "toolu_bdrk_"),
                    "name": tool["name"],
                    "input": tool["input"],
                }
            )
        else:
            content.append({"type": "text", "text": block["text"]})
    return content


def _anthropic_render(answer: Answer, spec: ModelSpec, request_id: str) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_" + request_id.replace("-", "")[:24],
        "type": "message",
        "role": "assistant",
        "model": _short_model(spec),
        "content": _anthropic_content(answer),
        "stop_reason": answer.stop_reason,
        "stop_sequence": answer.stop_sequence,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def _anthropic_chunks(answer: Answer, spec: ModelSpec, request_id: str) -> list[tuple[dict[str, Any], bool]]:
    message = _anthropic_render(answer, spec, request_id)
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": 1},
    }
    chunks: list[tuple[dict[str, Any], bool]] = [({"type": "message_start", "message": start}, False)]
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opening = {**block, "input": {}}
            chunks.append(({"type": "content_block_start", "index": index, "content_block": opening}, False))
            from bedrock_proxy.emulator.converse_wire import tool_input_pieces

            for piece in tool_input_pieces(block["input"]):
                delta = {"type": "input_json_delta", "partial_json": piece}
                chunks.append(({"type": "content_block_delta", "index": index, "delta": delta}, True))
        else:
            chunks.append(
                (
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                    False,
                )
            )
            for piece in split_deltas(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                chunks.append(({"type": "content_block_delta", "index": index, "delta": delta}, True))
        chunks.append(({"type": "content_block_stop", "index": index}, False))
    chunks.append(
        (
            {
                "type": "message_delta",
                "delta": {"stop_reason": answer.stop_reason, "stop_sequence": answer.stop_sequence},
                "usage": {"output_tokens": answer.output_tokens},
            },
            False,
        )
    )
    chunks.append(({"type": "message_stop"}, False))
    return chunks


# --- Titan Text, Llama, Mistral ---------------------------------------------------------------------------


def _titan_parse(body: Any, spec: ModelSpec, streaming: bool) -> Turn:
    body = _require(body, "inputText")
    if not isinstance(body["inputText"], str):
        raise malformed("#/inputText: expected type: String")
    config = body.get("textGenerationConfig") or {}
    if not isinstance(config, dict):
        raise malformed("#/textGenerationConfig: expected type: JSONObject")
    _bounded(config, "temperature", "textGenerationConfig/temperature")
    _bounded(config, "topP", "textGenerationConfig/topP")
    max_tokens = _positive_int(config, "maxTokenCount", "textGenerationConfig/maxTokenCount") or 512
    if max_tokens > spec.max_output:
        raise malformed(
            f"#/textGenerationConfig/maxTokenCount: {max_tokens} is not less or equal to {spec.max_output}"
        )
    return _plain_turn(body["inputText"], max_tokens, list(config.get("stopSequences") or []), spec)


_TITAN_REASON = {
    "end_turn": "FINISH",
    "max_tokens": "LENGTH",
    "stop_sequence": "STOP_CRITERIA_MET",
    "content_filtered": "CONTENT_FILTERED",
    "guardrail_intervened": "CONTENT_FILTERED",
}


def _titan_render(answer: Answer, spec: ModelSpec, request_id: str) -> dict[str, Any]:
    return {
        "inputTextTokenCount": answer.input_tokens,
        "results": [
            {
                "tokenCount": answer.output_tokens,
                "outputText": answer.text,
                "completionReason": _TITAN_REASON.get(answer.stop_reason, "FINISH"),
            }
        ],
    }


def _titan_chunks(answer: Answer, spec: ModelSpec, request_id: str) -> list[tuple[dict[str, Any], bool]]:
    pieces = split_deltas(answer.text) or [""]
    chunks, emitted = [], 0
    for i, piece in enumerate(pieces):
        emitted += estimate_tokens(piece)
        last = i == len(pieces) - 1
        chunk = {
            "outputText": piece,
            "index": 0,
            "totalOutputTextTokenCount": answer.output_tokens if last else emitted,
            "completionReason": _TITAN_REASON.get(answer.stop_reason, "FINISH") if last else None,
        }
        if i == 0:
            chunk["inputTextTokenCount"] = answer.input_tokens
        chunks.append((chunk, True))
    return chunks


def _llama_parse(body: Any, spec: ModelSpec, streaming: bool) -> Turn:
    body = _require(body, "prompt")
    _bounded(body, "temperature", "temperature")
    _bounded(body, "top_p", "top_p")
    max_tokens = _positive_int(body, "max_gen_len", "max_gen_len") or 512
    if max_tokens > spec.max_output:
        raise malformed(f"#/max_gen_len: {max_tokens} is not less or equal to {spec.max_output}")
    return _plain_turn(str(body["prompt"]), max_tokens, [], spec)


def _llama_reason(answer: Answer) -> str:
    return "length" if answer.stop_reason == "max_tokens" else "stop"


def _llama_render(answer: Answer, spec: ModelSpec, request_id: str) -> dict[str, Any]:
    return {
        "generation": answer.text,
        "prompt_token_count": answer.input_tokens,
        "generation_token_count": answer.output_tokens,
        "stop_reason": _llama_reason(answer),
    }


def _llama_chunks(answer: Answer, spec: ModelSpec, request_id: str) -> list[tuple[dict[str, Any], bool]]:
    pieces = split_deltas(answer.text) or [""]
    chunks, emitted = [], 0
    for i, piece in enumerate(pieces):
        emitted += estimate_tokens(piece)
        last = i == len(pieces) - 1
        chunks.append(
            (
                {
                    "generation": piece,
                    "prompt_token_count": answer.input_tokens if i == 0 else None,
                    "generation_token_count": answer.output_tokens if last else emitted,
                    "stop_reason": _llama_reason(answer) if last else None,
                },
                True,
            )
        )
    return chunks


def _mistral_parse(body: Any, spec: ModelSpec, streaming: bool) -> Turn:
    body = _require(body, "prompt")
    _bounded(body, "temperature", "temperature")
    _bounded(body, "top_p", "top_p")
    max_tokens = _positive_int(body, "max_tokens", "max_tokens") or 512
    if max_tokens > spec.max_output:
        raise malformed(f"#/max_tokens: {max_tokens} is not less or equal to {spec.max_output}")
    stops = body.get("stop") or []
    return _plain_turn(
        str(body["prompt"]), max_tokens, [stops] if isinstance(stops, str) else list(stops), spec
    )


def _mistral_render(answer: Answer, spec: ModelSpec, request_id: str) -> dict[str, Any]:
    return {"outputs": [{"text": answer.text, "stop_reason": _llama_reason(answer)}]}


def _mistral_chunks(answer: Answer, spec: ModelSpec, request_id: str) -> list[tuple[dict[str, Any], bool]]:
    pieces = split_deltas(answer.text) or [""]
    return [
        (
            {
                "outputs": [
                    {"text": piece, "stop_reason": _llama_reason(answer) if i == len(pieces) - 1 else None}
                ]
            },
            True,
        )
        for i, piece in enumerate(pieces)
    ]


TEXT_FAMILIES = {
    "anthropic": (_anthropic_parse, _anthropic_render, _anthropic_chunks),
    "titan-text": (_titan_parse, _titan_render, _titan_chunks),
    "llama": (_llama_parse, _llama_render, _llama_chunks),
    "mistral": (_mistral_parse, _mistral_render, _mistral_chunks),
}


def parse_text(body: Any, spec: ModelSpec) -> Turn:
    if spec.native not in TEXT_FAMILIES:  # Nova's and gpt-oss's own bodies are not modelled: Converse is
        raise validation(
            f"The emulator models InvokeModel bodies only for {', '.join(TEXT_FAMILIES)} models; call"
            f" {spec.model_id} through Converse."
        )
    return TEXT_FAMILIES[spec.native][0](body, spec, False)


def render_text(answer: Answer, spec: ModelSpec, request_id: str) -> dict[str, Any]:
    return TEXT_FAMILIES[spec.native][1](answer, spec, request_id)


def text_chunks(answer: Answer, spec: ModelSpec, request_id: str) -> list[tuple[dict[str, Any], bool]]:
    return TEXT_FAMILIES[spec.native][2](answer, spec, request_id)


def invocation_metrics(answer: Answer, latency_ms: int, first_byte_ms: int) -> dict[str, Any]:
    """What Bedrock appends to the last chunk of an InvokeModelWithResponseStream."""
    return {
        "inputTokenCount": answer.input_tokens,
        "outputTokenCount": answer.output_tokens,
        "invocationLatency": latency_ms,
        "firstByteLatency": first_byte_ms,
    }


# --- Embeddings --------------------------------------------------------------------------------------------


def embedding_marker(body: Any) -> str | None:
    """Controls in an embedding body's text (removed from it)."""
    if isinstance(body, dict) and isinstance(body.get("inputText"), str) and MARKER_TEXT in body["inputText"]:
        body["inputText"], marker = take_marker(body["inputText"])
        return marker
    if isinstance(body, dict) and isinstance(body.get("texts"), list) and body["texts"]:
        last = body["texts"][-1]
        if isinstance(last, str) and MARKER_TEXT in last:
            body["texts"][-1], marker = take_marker(last)
            return marker
    return None


def embed_titan(body: Any, spec: ModelSpec) -> tuple[dict[str, Any], int]:
    body = _require(body, "inputText")
    text = body["inputText"]
    if not isinstance(text, str):
        raise malformed("#/inputText: expected type: String")
    if not text:
        raise malformed("#/inputText: expected minLength: 1, actual: 0")
    v2 = spec.model_id.startswith("amazon.titan-embed-text-v2")
    allowed = {"inputText", "dimensions", "normalize", "embeddingTypes"} if v2 else {"inputText"}
    for key in body:
        if key not in allowed:
            raise malformed(f"#: extraneous key [{key}] is not permitted")
    tokens = estimate_tokens(text)
    if tokens > spec.context_window:
        raise errors.validation(
            f"400 Bad Request: Too many input tokens. Max input tokens: {spec.context_window}, request input"
            f" token count: {tokens}"
        )
    if not v2:
        return {"embedding": embed(text, 1536, normalize=False), "inputTextTokenCount": tokens}, tokens
    dimensions = body.get("dimensions", 1024)
    if dimensions not in spec.embedding_dimensions:
        raise malformed(f"#/dimensions: {dimensions} is not a valid enum value")
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise malformed("#/normalize: expected type: Boolean")
    types = body.get("embeddingTypes", ["float"])
    if not isinstance(types, list) or not types or any(t not in ("float", "binary") for t in types):
        raise malformed(f"#/embeddingTypes: {types} is not a valid enum value")
    vector = embed(text, dimensions, normalize)
    by_type: dict[str, Any] = {}
    if "float" in types:
        by_type["float"] = vector
    if "binary" in types:
        by_type["binary"] = binary(vector)
    result: dict[str, Any] = {"inputTextTokenCount": tokens, "embeddingsByType": by_type}
    if "float" in types:
        result["embedding"] = vector
    return result, tokens


def embed_cohere(body: Any, spec: ModelSpec, request_id: str) -> tuple[dict[str, Any], int]:
    body = _require(body, "texts", "input_type")
    texts = body["texts"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise malformed("#/texts: expected type: JSONArray of String")
    if len(texts) > 96:
        raise malformed(f"#/texts: expected maximum item count: 96, found: {len(texts)}")
    if body["input_type"] not in _COHERE_INPUT_TYPES:
        raise malformed(f"#/input_type: {body['input_type']} is not a valid enum value")
    v4 = len(spec.embedding_dimensions) > 1  # Embed v4: output_dimension 256-1536, truncate LEFT/RIGHT
    if body.get("truncate", "NONE") not in (("NONE", "LEFT", "RIGHT") if v4 else ("NONE", "START", "END")):
        raise malformed(f"#/truncate: {body.get('truncate')} is not a valid enum value")
    dimensions = body.get("output_dimension", spec.embedding_dimensions[0]) if v4 else 1024
    if dimensions not in spec.embedding_dimensions:
        raise malformed(f"#/output_dimension: {dimensions} is not a valid enum value")
    types = body.get("embedding_types")
    if types is not None and (not isinstance(types, list) or any(t not in _COHERE_TYPES for t in types)):
        raise malformed(f"#/embedding_types: {types} is not a valid enum value")
    vectors = [embed(text, dimensions, True) for text in texts]
    tokens = sum(estimate_tokens(t) for t in texts)
    result: dict[str, Any] = {"id": request_id, "texts": texts}
    if types is None:
        result.update(embeddings=vectors, response_type="embeddings_floats")
    else:
        converters: dict[str, Callable[[list[float]], list[float] | list[int]]] = {
            "float": lambda v: v,
            "int8": int8,
            "uint8": lambda v: [x + 128 for x in int8(v)],
            "binary": lambda v: packed_bits(v, True),
            "ubinary": lambda v: packed_bits(v, False),
        }
        result.update(
            embeddings={t: [converters[t](v) for v in vectors] for t in types},
            response_type="embeddings_by_type",
        )
    return result, tokens
