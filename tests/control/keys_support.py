"""Plain HTTP for the management API, and the OpenAI SDK for what a key may do."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from tests.e2e.support import MASTER_KEY, Gateway, config_text, gateway

CONFIG = config_text()


def call(
    base: str, method: str, path: str, body: dict[str, Any] | None = None, key: str = MASTER_KEY
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def generate(base: str, **body: Any) -> dict[str, Any]:
    status, answer = call(base, "POST", "/key/generate", body)
    assert status == 200, answer
    return answer


def ask(base: str, key: str, model: str = "claude-3-haiku") -> Any:
    """One chat completion through the OpenAI SDK: the answer, or the APIStatusError it raised."""
    client = openai.OpenAI(api_key=key, base_url=f"{base}/v1", max_retries=0, timeout=30)
    try:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Bonjour"}])
    except openai.APIStatusError as error:
        return error


@contextmanager
def keyed_gateway(
    tmp_path: Path, emulator_url: str, database_url: str, config: str = CONFIG, **env: str
) -> Iterator[Gateway]:
    extra = {
        "DATABASE_URL": database_url,
        "BEDROCK_PROXY_KEYS_REFRESH_SECONDS": "0.5",
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
        **env,
    }
    with gateway(config, tmp_path, emulator_url=emulator_url, env=extra) as running:
        yield running
