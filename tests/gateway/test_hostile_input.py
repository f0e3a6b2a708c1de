"""Issue 14, findings 4 and 6: bodies a hostile (or careless) caller sends get a 4xx in OpenAI's shape that
names the field, never a 500; a body larger than the gateway takes is refused before it is read; a compressed
one is decoded within the same limit. Each case is the issue's reproducer."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import zlib
from urllib.parse import urlsplit

import pytest

from tests.gateway.conftest import assert_openai_error, call

CHAT_PATH = "/v1/chat/completions"


def chat_body(**overrides: object) -> dict:
    return {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}], **overrides}


def nested(depth: int) -> dict:
    """A JSON Schema object nested `depth` levels deep."""
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def deep_arguments(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def tool(parameters: dict) -> dict:
    return {"type": "function", "function": {"name": "lookup", "parameters": parameters}}


def tool_call_conversation(arguments: str) -> list[dict]:
    return [
        {"role": "user", "content": "Quel temps fait-il ?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Il pleut."},
    ]


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"messages": [{"role": [], "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": {}, "content": "x"}]}, "messages[0].role"),
        ({"max_tokens": 123456789012345678901234567890}, "max_tokens"),
        ({"max_tokens": 1e308}, "max_tokens"),
        ({"max_completion_tokens": 1e300}, "max_completion_tokens"),
        ({"top_k": 1e308}, "top_k"),
        ({"seed": 10**30}, "seed"),
        ({"temperature": 1e308}, "temperature"),
        ({"tools": [tool(nested(250))]}, "tools[0].function.parameters"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": nested(250)}}},
            "response_format.json_schema.schema",
        ),
        ({"messages": tool_call_conversation(deep_arguments(300))}, "messages[1].tool_calls[0].function"),
        ({"metadata": nested(300)}, "metadata"),
    ],
    ids=[
        "role-array",
        "role-object",
        "int-beyond-64-bits",
        "max-tokens-1e308",
        "max-completion-1e300",
        "top-k-1e308",
        "seed-beyond-64-bits",
        "temperature-1e308",
        "deep-tool-parameters",
        "deep-json-schema",
        "deep-tool-call-arguments",
        "deep-metadata",
    ],
)
def test_hostile_values_are_a_400_naming_the_field(gateway_url: str, overrides: dict, param: str) -> None:
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", chat_body(**overrides))
    assert status == 400, body
    error = assert_openai_error(body)
    assert error["param"] is not None and error["param"].startswith(param), error


def test_the_depth_limit_is_named_and_a_real_schema_passes(gateway_url: str) -> None:
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", chat_body(tools=[tool(nested(70))]))
    assert status == 400
    assert "64 levels" in body["error"]["message"] and "max_json_depth" in body["error"]["message"]
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", chat_body(tools=[tool(nested(20))]))
    assert status == 200, body


def test_a_gzip_body_is_decoded(gateway_url: str) -> None:
    raw = json.dumps(chat_body()).encode()
    for encoding, data in (("gzip", gzip.compress(raw)), ("deflate", zlib.compress(raw))):
        status, _, body = call(f"{gateway_url}{CHAT_PATH}", raw=data, headers={"Content-Encoding": encoding})
        assert status == 200, (encoding, body)
        assert body["choices"][0]["message"]["content"]


def test_a_zip_bomb_is_refused_at_the_limit(gateway_url: str) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 MiB of spaces in about 64 KB
    assert len(bomb) < 100_000
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", raw=bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413
    assert "max_request_size_mb" in assert_openai_error(body, code="request_too_large")["message"]


def test_an_unknown_or_broken_encoding_is_a_clear_error(gateway_url: str) -> None:
    raw = json.dumps(chat_body()).encode()
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", raw=raw, headers={"Content-Encoding": "br"})
    assert status == 415
    assert "gzip" in assert_openai_error(body, code="unsupported_content_encoding")["message"]
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", raw=raw, headers={"Content-Encoding": "gzip"})
    assert status == 400
    assert_openai_error(body, code="invalid_content_encoding")


def test_the_default_body_limit_is_below_bedrocks(gateway_url: str) -> None:
    """A 30 MB body used to travel to Bedrock (limit 25,000,000 bytes) and come back as a 500. A keep-alive
    client (as the SDKs are) that sends its whole body before reading gets the 413, not a reset."""
    parts = urlsplit(gateway_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    huge = chat_body(messages=[{"role": "user", "content": "a" * (22 * 1024 * 1024)}])
    headers = {"Authorization": "Bearer sk-1234", "Content-Type": "application/json"}
    connection.request("POST", CHAT_PATH, body=json.dumps(huge).encode(), headers=headers)
    response = connection.getresponse()
    assert response.status == 413
    error = assert_openai_error(json.loads(response.read()), code="request_too_large")
    assert "20 MiB" in error["message"]
    connection.close()


def declare_and_read(gateway_url: str, length: int) -> tuple[bytes, dict]:
    """Headers declaring a `length`-byte body, none of it sent: the answer's head and JSON."""
    parts = urlsplit(gateway_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer sk-1234\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            answer += sock.recv(65536)
    head, _, payload = answer.partition(b"\r\n\r\n")
    return head.lower(), json.loads(payload)


def test_a_declared_oversized_body_is_refused_before_it_is_sent(gateway_url: str) -> None:
    """Content-Length far above the limit: the 413 arrives while the client has sent nothing of the body, and
    the connection closes (up to 4 x the limit the body is read and dropped first, never kept: see
    test_the_default_body_limit_is_below_bedrocks)."""
    head, payload = declare_and_read(gateway_url, 10 * 1024**3)
    assert head.startswith(b"http/1.1 413") and b"connection: close" in head
    assert_openai_error(payload, code="request_too_large")


def test_an_oversized_body_gets_its_413_with_connection_close_too(gateway_url: str) -> None:
    """urllib sends Connection: close and its whole body before reading: it must see the 413, not a reset."""
    huge = chat_body(messages=[{"role": "user", "content": "a" * (30 * 1024 * 1024)}])
    status, _, body = call(f"{gateway_url}{CHAT_PATH}", huge)
    assert status == 413
    assert_openai_error(body, code="request_too_large")


def test_a_chunked_body_is_counted_as_it_arrives(gateway_url: str) -> None:
    parts = urlsplit(gateway_url)
    chunk = b"a" * (1024 * 1024)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer sk-1234\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        answer = b""
        try:
            for _ in range(40):  # 40 MiB offered; the answer must come at 20
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the gateway closed the connection after its 413
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_the_limit_is_litellms_max_request_size_mb(emulator_url: str, tmp_path) -> None:
    from tests.conftest import seed_config
    from tests.support.processes import gateway_process

    config = seed_config().replace("general_settings:\n", "general_settings:\n  max_request_size_mb: 0.5\n")
    with gateway_process(config, tmp_path, emulator_url=emulator_url) as url:
        small = chat_body(messages=[{"role": "user", "content": "a" * 400_000}])
        assert call(f"{url}{CHAT_PATH}", small)[0] == 200
        large = chat_body(messages=[{"role": "user", "content": "a" * 600_000}])
        status, _, body = call(f"{url}{CHAT_PATH}", large)
        assert status == 413
        assert "0.5 MiB" in assert_openai_error(body)["message"]
