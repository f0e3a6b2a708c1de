"""Every error a client can meet, end to end: OpenAI's error shape, the right status, a message that says
what to do. Client mistakes, Bedrock's own errors (injected by the emulator) and broken deployments."""

from __future__ import annotations

import time

import openai
import pytest
from openai import OpenAI

from tests.gateway.conftest import assert_openai_error, call

CHAT_PATH = "/v1/chat/completions"


def chat_body(**overrides: object) -> dict:
    return {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}], **overrides}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"model": "claude-3-haiku",', "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
    ids=["truncated", "empty", "array", "not-utf8"],
)
def test_a_body_that_is_not_a_json_object_is_a_400(gateway_url: str, raw: bytes, fragment: str) -> None:
    status, headers, body = call(f"{gateway_url}{CHAT_PATH}", raw=raw)
    assert status == 400 and headers["content-type"] == "application/json"
    assert fragment in assert_openai_error(body)["message"]


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"model": 42}, "model"),
        ({"messages": "Bonjour"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 12}]}, "messages[0].content"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": "ten"}, "max_completion_tokens"),
        ({"n": 0}, "n"),
        ({"stop": [1, 2]}, "stop"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"metadata": "x"}, "metadata"),
        ({"user": 5}, "user"),
        ({"tools": {"name": "x"}}, "tools"),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
        ({"tool_choice": "always"}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"functions": [{"name": "f"}]}, "functions"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_wrong_type_or_value_is_a_400_naming_the_field(
    gateway_url: str, overrides: dict, param: str
) -> None:
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", chat_body(**overrides))
    assert status == 400, body
    assert_openai_error(body, param=param)


def test_an_unknown_model_lists_the_configured_ones(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    error = caught.value.body
    assert error["param"] == "model" and "gpt-4o" in error["message"]
    assert "claude-3-5-sonnet" in error["message"] and "mistral-7b" in error["message"]


def test_an_oversized_body_is_a_413(gateway_url: str) -> None:
    filler = "x" * (33 * 1024 * 1024)
    status, _, body = call(
        f"{gateway_url}{CHAT_PATH}", raw=chat_body(padding=filler).__repr__().encode() + b" "
    )
    assert status == 413
    assert "MiB" in assert_openai_error(body, code="request_too_large")["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/cat.png",
        "http://localhost:8080/cat.png",
        "http://10.0.0.5/cat.png",
        "http://192.168.1.1/cat.png",
        "http://169.254.169.254/latest/meta-data/iam",
        "http://[::1]/cat.png",
        "http://[::ffff:127.0.0.1]/cat.png",
        "http://0.0.0.0/cat.png",
        "http://2130706433/cat.png",
    ],
    ids=[
        "loopback",
        "localhost",
        "10/8",
        "192.168/16",
        "metadata",
        "ipv6-loopback",
        "mapped",
        "zero",
        "decimal",
    ],
)
def test_an_image_url_to_a_private_address_is_refused(client: OpenAI, url: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="claude-3-haiku",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}],
        )
    error = caught.value.body
    assert error["code"] == "invalid_image_url"
    assert "private, loopback or link-local" in error["message"] and "data: URL" in error["message"]


@pytest.mark.parametrize(
    ("fault", "status", "code", "advice"),
    [
        ("validation", 400, "bedrock_validation_error", "ValidationException"),
        ("context-window", 400, "context_length_exceeded", "too long"),
        ("access-denied", 403, "bedrock_access_denied", "bedrock:InvokeModel"),
        ("not-found", 404, "bedrock_model_not_found", "model id in config.yaml"),
        ("model-timeout", 408, "bedrock_model_timeout", "Retry"),
        ("throttling", 429, "bedrock_throttled", "retry after a pause"),
        ("model-not-ready", 429, "bedrock_model_not_ready", "retry shortly"),
        ("quota", 429, "bedrock_quota_exceeded", "service quota"),
        ("unavailable", 503, "bedrock_unavailable", "retry later"),
        ("internal", 500, "bedrock_internal_error", "retry"),
        ("reset", 503, "bedrock_connection_error", "Check the network path"),
    ],
)
def test_bedrock_errors_are_mapped_with_advice(
    special_gateway_url: str, fault: str, status: int, code: str, advice: str
) -> None:
    messages = [{"role": "user", "content": f"Bonjour [[emu:fault={fault}]]"}]
    for stream in (False, True):
        body = chat_body(model="faulty-haiku", messages=messages, stream=stream)
        got, _, body = call(f"{special_gateway_url}{CHAT_PATH}", body)
        assert got == status, body
        assert advice in assert_openai_error(body, code=code)["message"]


def test_a_deployment_with_a_wrong_secret_key_is_a_403_with_credentials_advice(
    special_client: OpenAI,
) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        special_client.chat.completions.create(
            model="wrong-secret", messages=[{"role": "user", "content": "Bonjour"}]
        )
    error = caught.value.body
    assert error["code"] == "bedrock_invalid_credentials"
    assert "secret key" in error["message"] and "not-the-right-secret" not in error["message"]


def test_the_raw_sonnet_v2_id_in_eu_west_1_is_refused_as_bedrock_refuses_it(special_client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        special_client.chat.completions.create(
            model="claude-3-5-sonnet-v2", messages=[{"role": "user", "content": "Bonjour"}]
        )
    message = caught.value.body["message"]
    assert "The provided model identifier is invalid" in message
    assert "is not offered in the EU" in message
    assert "use model: bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0 instead" in message
    assert "eu.anthropic.claude-3-5-sonnet-20241022-v2:0" not in message


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
def test_a_bedrock_call_past_the_deployment_timeout_is_a_408(special_gateway_url: str, stream: bool) -> None:
    started = time.monotonic()
    status, _, body = call(
        f"{special_gateway_url}{CHAT_PATH}",
        chat_body(
            model="short-timeout",
            stream=stream,
            messages=[{"role": "user", "content": "x [[emu:fault=timeout]]"}],
        ),
    )
    assert status == 408, body
    assert "request_timeout" in assert_openai_error(body, code="request_timeout")["message"]
    assert time.monotonic() - started < 15, "the 1.5 s timeout ends the request, not the emulator's 300 s"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("POST", "/v1/models", 405, "method_not_allowed"),
        ("POST", "/v1/completions", 404, "not_found"),
        ("GET", "/nowhere", 404, "not_found"),
    ],
)
def test_unknown_routes_and_methods_answer_in_openai_shape(
    gateway_url: str, method: str, path: str, status: int, code: str
) -> None:
    got, _, body = call(f"{gateway_url}{path}", method=method, raw=b"{}" if method == "POST" else None)
    assert got == status
    assert_openai_error(body, code=code)
