"""The gateway as users start it: `bedrock-proxy demo` answering the curl it prints, `check-config` on the
shipped config.yaml, and AWS_BEARER_TOKEN_BEDROCK instead of SigV4 keys."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import call
from tests.support.processes import clean_env, emulator_process, free_port, gateway_process, wait_until_up
from tests.support.tls import TlsFiles

ROOT = Path(__file__).resolve().parents[2]
BEARER = "bedrock-api-key-for-tests"


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[str, str]]:
    """(base URL, everything the demo printed up to 'Press Ctrl+C')."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_proxy", "demo", "--port", str(port)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line)
            if "Press Ctrl+C" in line:
                break
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if call(f"{base}/health", key=None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        yield base, "".join(printed)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_demo_answers_the_curl_it_prints(demo: tuple[str, str]) -> None:
    base, printed = demo
    match = re.search(r"(curl \S+/v1/chat/completions.*?\}'\n)", printed, re.S)
    assert match, printed
    words = shlex.split(match.group(1).replace("\\\n", " "))
    assert words[1] == f"{base}/v1/chat/completions"
    result = subprocess.run(
        [*words, "-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30, check=True
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "200", body
    assert '"object":"chat.completion"' in body and "Emulated answer" in body


def test_the_demo_streams_with_the_sdk(demo: tuple[str, str]) -> None:
    client = OpenAI(api_key="sk-1234", base_url=f"{demo[0]}/v1", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="claude-3-5-sonnet", messages=[{"role": "user", "content": "Bonjour"}], stream=True
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Emulated answer: Bonjour"
    )


def test_the_demo_stores_responses_without_leaving_a_file_behind(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_proxy", "demo", "--port", str(port)],
        env=clean_env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/health", process, timeout=30)
        client = OpenAI(api_key="sk-1234", base_url=f"{base}/v1", max_retries=0)
        created = client.responses.create(model="claude-3-5-sonnet", input="Bonjour")
        assert client.responses.retrieve(created.id).output_text == "Emulated answer: Bonjour"
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("env", "returncode", "expected"),
    [
        ({"LITELLM_MASTER_KEY": "sk-test"}, 0, "33 deployments in 33 model groups; 0 errors"),
        ({}, 1, "LITELLM_MASTER_KEY is not set"),
    ],
    ids=["master-key-set", "master-key-missing"],
)
def test_check_config_judges_the_shipped_config(env: dict, returncode: int, expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "check-config", "--config", str(ROOT / "config.yaml")],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == returncode, output
    assert expected in output


@pytest.fixture(scope="module")
def bearer_gateway(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[str]:
    # The emulator rejects the example key pair: only the bearer token gets in. It is served over HTTPS, as
    # Bedrock is, with a certificate the gateway trusts through botocore's AWS_CA_BUNDLE.
    with emulator_process(
        "--bearer-token",
        BEARER,
        "--access-key",
        "AKIDOTHERPAIR",
        "--secret-key",
        "other-secret",
        tls=tls_files,
    ) as emulator_url:
        assert emulator_url.startswith("https://")
        config = """
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
  - model_name: titan-embed-text-v2
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_region_name: eu-west-1
  - model_name: revoked-token
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      api_key: a-revoked-bedrock-api-key
"""
        with gateway_process(
            config,
            tmp_path_factory.mktemp("bearer"),
            emulator_url=emulator_url,
            env={"AWS_BEARER_TOKEN_BEDROCK": BEARER, "AWS_CA_BUNDLE": tls_files.ca},
        ) as url:
            yield url


def test_aws_bearer_token_bedrock_authenticates_chat_streams_and_embeddings(bearer_gateway: str) -> None:
    client = OpenAI(api_key="any", base_url=f"{bearer_gateway}/v1", max_retries=0)
    answer = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}]
    )
    assert answer.choices[0].message.content == "Emulated answer: Bonjour"
    chunks = list(
        client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Bonjour"}], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(client.embeddings.create(model="titan-embed-text-v2", input="x").data[0].embedding) == 1024


def test_a_rejected_bearer_token_is_a_403_with_credentials_advice(bearer_gateway: str) -> None:
    client = OpenAI(api_key="any", base_url=f"{bearer_gateway}/v1", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(
            model="revoked-token", messages=[{"role": "user", "content": "Bonjour"}]
        )
    error = caught.value.body
    assert error["code"] == "bedrock_invalid_credentials" and "credentials" in error["message"]
    assert "a-revoked-bedrock-api-key" not in error["message"]
