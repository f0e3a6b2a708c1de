"""Fixtures for the end-to-end gateway tests: SDK clients, raw HTTP helpers, and a second gateway whose config
holds the deployments that misbehave on purpose (wrong secret, raw id needing a profile, short timeout)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from tests.gateway.relay import TcpRelay
from tests.support.processes import gateway_process

MASTER_KEY = "sk-1234"
EMBEDDING_LATENCY = 0.25  # seconds per InvokeModel of `slow-titan-embed`
SONNET_V2_RAW_ID = "anthropic.claude-3-5-sonnet-20241022-v2:0"


def call(
    url: str,
    body: Any = None,
    *,
    key: str | None = MASTER_KEY,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict, Any]:
    """One HTTP call; returns (status, headers, parsed JSON or text), errors included."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"))
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, response_headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, payload = error.code, dict(error.headers), error.read()
    text = payload.decode()
    try:
        return status, response_headers, json.loads(text)
    except json.JSONDecodeError:
        return status, response_headers, text


def assert_openai_error(body: Any, *, code: str | None = None, param: str | None = None) -> dict:
    """The error object in OpenAI's shape, with exactly its four keys."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return error


def emulator_stats(emulator_url: str) -> dict:
    with urllib.request.urlopen(f"{emulator_url}/_emulator/stats", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def client(gateway_url: str) -> OpenAI:
    return OpenAI(api_key=MASTER_KEY, base_url=f"{gateway_url}/v1", max_retries=0, timeout=60)


@pytest.fixture(scope="session")
def relay(emulator_url: str) -> Iterator[TcpRelay]:
    with TcpRelay(int(emulator_url.rsplit(":", 1)[1])) as tcp_relay:
        yield tcp_relay


def special_config(emulator_url: str, relay_port: int) -> str:
    return f"""
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
  - model_name: llama3-1-8b
    litellm_params:
      model: bedrock/eu.meta.llama3-2-3b-instruct-v1:0
      aws_region_name: eu-west-1
  - model_name: claude-3-5-sonnet-v2
    litellm_params:
      model: bedrock/{SONNET_V2_RAW_ID}
      aws_region_name: eu-west-1
  - model_name: wrong-secret
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      aws_access_key_id: AKIDEXAMPLE
      aws_secret_access_key: not-the-right-secret
  - model_name: short-timeout
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      timeout: 1.5
  - model_name: relayed-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: http://127.0.0.1:{relay_port}
  - model_name: slow-titan-embed
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {emulator_url}/_emu/latency={EMBEDDING_LATENCY}
  - model_name: faulty-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
litellm_settings:
  drop_params: true
router_settings:
  cooldown_time: 0   # injected faults must not cool the deployments down for the next test
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="session")
def special_gateway_url(
    emulator_url: str, relay: TcpRelay, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """drop_params: true, no cooldown, deployments that fail on purpose (`faulty-haiku` takes the emulator's
    fault markers), and `relayed-haiku` through `relay`."""
    tmp: Path = tmp_path_factory.mktemp("special-gateway")
    with gateway_process(special_config(emulator_url, relay.port), tmp, emulator_url=emulator_url) as url:
        yield url


@pytest.fixture(scope="session")
def special_client(special_gateway_url: str) -> OpenAI:
    return OpenAI(api_key=MASTER_KEY, base_url=f"{special_gateway_url}/v1", max_retries=0, timeout=60)
