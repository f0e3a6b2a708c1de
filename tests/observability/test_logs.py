"""Logs: readable or JSON, the request id on every line, secrets never written."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from bedrock_proxy.observability.logs import REDACTED, configure_logging, log_raw, redact, request_id_var


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_request_id_and_extra_fields(restore_logging) -> None:
    out = io.StringIO()
    handler = configure_logging(json_logs=True, level="INFO", stream=out)
    token = request_id_var.set("req-42")
    try:
        logging.getLogger("bedrock_proxy.test").info("served %s", "chat", extra={"status": 200})
    finally:
        request_id_var.reset(token)
    handler.flush()  # lines are written by the handler's own thread
    line = orjson.loads(out.getvalue().splitlines()[-1])
    assert line["message"] == "served chat"
    assert line["request_id"] == "req-42"
    assert line["level"] == "INFO"
    assert line["status"] == 200


def test_text_lines_carry_the_request_id(restore_logging) -> None:
    out = io.StringIO()
    handler = configure_logging(json_logs=False, level="DEBUG", stream=out)
    token = request_id_var.set("req-7")
    try:
        logging.getLogger("bedrock_proxy.test").debug("hello")
    finally:
        request_id_var.reset(token)
    handler.flush()
    assert "[req-7] hello" in out.getvalue()


def test_secrets_in_log_messages_are_redacted(restore_logging) -> None:
    out = io.StringIO()
    handler = configure_logging(json_logs=False, level="INFO", stream=out)
    logging.getLogger("bedrock_proxy.test").info("auth header was Bearer sk-1234567890abcdef")
    handler.flush()
    assert "auth header was Bearer" in out.getvalue()
    assert "sk-1234567890abcdef" not in out.getvalue()


@pytest.mark.parametrize(
    ("given", "secret"),
    [
        ({"Authorization": "Bearer sk-abc123456"}, "sk-abc123456"),
        ({"headers": {"x-api-key": "sk-ant-123456"}}, "sk-ant-123456"),
        ({"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, "wJalrXUtnFEMI"),
        ({"aws_session_token": "FwoGZXIvYXdzEJr"}, "FwoGZXIvYXdzEJr"),
        ({"LANGFUSE_SECRET_KEY": "sk-lf-999999"}, "sk-lf-999999"),
        ({"master_key": "sk-1234"}, "sk-1234"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, Signature=5d672d79c15b13",
            "AKIDEXAMPLE",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, Signature=5d672d79c15b13",
            "5d672d79c15b13",
        ),
        ('{"api_key": "sk-live-42424242"}', "sk-live-42424242"),
        ("key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
        ([{"password": "hunter2"}], "hunter2"),
    ],
)
def test_redact_removes_secrets(given, secret: str) -> None:
    assert secret not in orjson.dumps(redact(given)).decode()


def test_redact_keeps_what_is_not_secret() -> None:
    body = {"model": "claude-3-haiku", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    assert redact(body) == body
    assert redact({"Authorization": "Bearer x" * 3})["Authorization"] == REDACTED


@pytest.mark.parametrize(
    "body",
    [
        {"embedding": [0.1, 0.2], "inputTextTokenCount": 5},  # Titan embeddings (issue 14, finding 10)
        {"usage": {"inputTokens": 3, "outputTokens": 4, "cacheReadInputTokenCount": 0}},
        {"meta": {"billed_units": {"input_tokens": 3}}, "results": [{"tokenCount": 2}]},
        {"amazon-bedrock-invocationMetrics": {"inputTokenCount": 9, "outputTokenCount": 12}},
    ],
    ids=["titan-embed", "converse-usage", "cohere-meta", "invocation-metrics"],
)
def test_token_counts_are_not_redacted(body: dict) -> None:
    assert redact(body) == body


@pytest.mark.parametrize(
    "key", ["token", "access_token", "id_token", "x-amz-security-token", "refresh-token"]
)
def test_keys_naming_a_token_still_hide_its_value(key: str) -> None:
    assert redact({key: "eyJhbGciOi.secret"})[key] == REDACTED


def test_raw_request_logging_is_off_unless_enabled(restore_logging) -> None:
    out = io.StringIO()
    handler = configure_logging(json_logs=False, level="INFO", stream=out)
    log_raw("request", {"messages": []}, enabled=False)
    handler.flush()
    assert out.getvalue() == ""
    log_raw("request", {"headers": {"authorization": "Bearer sk-secret-value"}, "messages": []}, enabled=True)
    handler.flush()
    assert "request" in out.getvalue()
    assert "sk-secret-value" not in out.getvalue()
