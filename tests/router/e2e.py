"""Talking to a real gateway process: OpenAI-shaped calls, response headers, SSE, emulator counts."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import aiohttp

AUTH = {"Authorization": "Bearer sk-router-test"}
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN_LITE = "amazon.titan-text-lite-v1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any = None
    events: list[Any] = field(default_factory=list)  # SSE data payloads, decoded ("[DONE]" kept as is)
    seconds: float = 0.0

    @property
    def attempts(self) -> int:
        return int(self.headers.get("x-bedrock-proxy-attempts", "0"))

    @property
    def deployment(self) -> str | None:
        return self.headers.get("x-bedrock-proxy-deployment")

    @property
    def fallback(self) -> bool:
        return self.headers.get("x-bedrock-proxy-fallback") == "true"

    def text(self) -> str:
        if self.events:
            return "".join(
                (e["choices"][0]["delta"].get("content") or "")
                for e in self.events
                if isinstance(e, dict) and e.get("choices")
            )
        return self.body["choices"][0]["message"]["content"]


async def chat(
    gateway: str,
    model: str,
    prompt: str = "Bonjour",
    *,
    stream: bool = False,
    **extra: Any,
) -> Reply:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream, **extra}
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(f"{gateway}/v1/chat/completions", json=body, headers=AUTH) as response,
    ):
        headers = {k.lower(): v for k, v in response.headers.items()}
        if stream and response.status == 200:
            events = []
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("data: "):
                    data = line[6:]
                    events.append(data if data == "[DONE]" else json.loads(data))
            return Reply(response.status, headers, None, events, time.monotonic() - started)
        payload = await response.json(content_type=None)
        return Reply(response.status, headers, payload, [], time.monotonic() - started)


def emulator_stats(emulator: str) -> dict:
    with urllib.request.urlopen(f"{emulator}/_emulator/stats", timeout=5) as response:
        return json.loads(response.read())


def deployment(name: str, ident: str, model: str = HAIKU, **params: Any) -> str:
    lines = [
        f"  - model_name: {name}",
        "    litellm_params:",
        f"      model: bedrock/{model}",
        f"      id: {ident}",
        "      aws_region_name: eu-west-1",
    ]
    lines += [f"      {key}: {value}" for key, value in params.items()]
    return "\n".join(lines) + "\n"


def gateway_metrics(gateway: str) -> str:
    request = urllib.request.Request(f"{gateway}/metrics", headers=AUTH)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()
