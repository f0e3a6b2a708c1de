"""What one call is: where it goes, what it sends, how its answer is read. Direct calls go to the emulator
as Converse/InvokeModel; gateway calls go to /v1/... as OpenAI requests with the master key."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import payloads
from bench.configs import MASTER_KEY

JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Call:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))
    stream: str = ""  # "" | "sse" | "eventstream"


def _auth() -> dict[str, str]:
    return {**JSON_HEADERS, "authorization": f"Bearer {MASTER_KEY}"}


def direct_chat(upstream: str, prompt: str) -> Call:
    return Call(f"{upstream}/model/{payloads.CHAT_MODEL_ID}/converse", payloads.converse(prompt))


def gateway_chat(gateway: str, model: str, prompt: str) -> Call:
    return Call(f"{gateway}/v1/chat/completions", payloads.chat_body(model, prompt), _auth())


def direct_stream(upstream: str, prompt: str) -> Call:
    return Call(
        f"{upstream}/model/{payloads.CHAT_MODEL_ID}/converse-stream",
        payloads.converse(prompt),
        stream="eventstream",
    )


def gateway_stream(gateway: str, model: str, prompt: str) -> Call:
    return Call(
        f"{gateway}/v1/chat/completions", payloads.chat_body(model, prompt, stream=True), _auth(), "sse"
    )


def gateway_messages(gateway: str, model: str, prompt: str) -> Call:
    return Call(f"{gateway}/v1/messages", payloads.chat_body(model, prompt), _auth())


def gateway_messages_stream(gateway: str, model: str, prompt: str) -> Call:
    body = payloads.chat_body(model, prompt, stream=True)
    return Call(f"{gateway}/v1/messages", body, _auth(), "anthropic-sse")


def direct_embedding(upstream: str, text: str) -> Call:
    return Call(f"{upstream}/model/{payloads.EMBED_MODEL_ID}/invoke", payloads.titan_embedding(text))


def gateway_embeddings(gateway: str, model: str, inputs: list[str]) -> Call:
    return Call(f"{gateway}/v1/embeddings", payloads.openai_embeddings(model, inputs), _auth())
