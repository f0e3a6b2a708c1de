"""Request bodies: the same conversation as an OpenAI request (to a gateway) and as a Converse request
(straight to the emulator), small (about 150 B) and large (tens of KB)."""

from __future__ import annotations

import orjson

CHAT_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED_MODEL_ID = "amazon.titan-embed-text-v2:0"
SMALL_PROMPT = "Bonjour, comment vas-tu? Explique-moi l'IA en une phrase."
# 38 words: the emulator echoes "Emulated answer:" + up to 40 words, two words per delta -> 20 deltas
STREAM_PROMPT = " ".join(f"mot{i}" for i in range(38))
LARGE_BYTES = 40_000


def large_prompt(size: int = LARGE_BYTES) -> str:
    sentence = "Voici un long document a resumer, ligne apres ligne, sans rien oublier. "
    return (sentence * (size // len(sentence) + 1))[:size]


def chat_body(model: str, prompt: str, *, stream: bool = False, max_tokens: int = 256) -> bytes:
    """One user question, as an OpenAI chat completions body; the same body is a valid Anthropic Messages
    one (POST /v1/messages), so both routes are measured on identical bytes."""
    return orjson.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.5,
            "stream": stream,
        }
    )


def converse(prompt: str, *, max_tokens: int = 256) -> bytes:
    return orjson.dumps(
        {
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.5},
        }
    )


def embedding_inputs(count: int) -> list[str]:
    return [
        f"Phrase numero {i}: le chat dort sur le canape pendant que la pluie tombe." for i in range(count)
    ]


def openai_embeddings(model: str, inputs: list[str]) -> bytes:
    return orjson.dumps({"model": model, "input": inputs})


def titan_embedding(text: str) -> bytes:
    return orjson.dumps({"inputText": text, "dimensions": 1024, "normalize": True})
