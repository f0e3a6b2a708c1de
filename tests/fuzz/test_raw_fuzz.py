"""Hypothesis on what the OpenAPI document cannot describe: raw bytes as bodies, any JSON value in any field
of a chat, embeddings, Messages or Responses body, and arbitrary header names and values on the wire.
Against a real gateway process and the emulator: no 5xx, every error in its API's shape, the gateway healthy
after (issue 14's guard)."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.support import FUZZ_EXAMPLES, MASTER_KEY, assert_no_5xx_and_openai_errors
from tests.gateway.conftest import call

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the normal suite runs the same examples every time
)
MODELS = ["claude-3-haiku", "claude-3-5-sonnet", "titan-text-express", "titan-embed-text-v2", "nope"]
CHAT_FIELDS = [
    "model", "messages", "stream", "stream_options", "n", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
    "logprobs", "top_logprobs", "seed", "user", "metadata", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "functions", "function_call",
]  # fmt: skip
MESSAGE_FIELDS = ["role", "content", "name", "tool_calls", "tool_call_id", "function_call", "cache_control"]
# what decides how a request is framed stays the test's: the fuzzed headers are everything else
FRAMING = {
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "expect",
    "upgrade",
    "content-encoding",
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["user", "assistant", "tool", "system", "text", "image_url", "function", "json_schema"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
deep_values = st.integers(min_value=1, max_value=400).map(lambda depth: json.loads("[" * depth + "]" * depth))
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "refusal", "input_audio", "file"]) | json_values},
    optional={"text": json_values, "image_url": json_values | st.fixed_dictionaries({"url": json_values})},
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant", "tool", "developer"]) | json_values},
        optional={
            "content": st.text(max_size=30) | st.lists(parts, max_size=3) | json_values,
            **{name: json_values | deep_values for name in MESSAGE_FIELDS[2:]},
        },
    ),
    max_size=4,
)
chat_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS) | json_values, "messages": messages | json_values},
    optional={name: json_values | deep_values for name in CHAT_FIELDS[2:]},
)
embedding_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS) | json_values},
    optional={name: json_values for name in ("input", "dimensions", "encoding_format", "user")},
)


anthropic_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS) | json_values,
        "max_tokens": st.integers(min_value=-5, max_value=2**70) | json_values,
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "assistant"]) | json_values},
                optional={"content": st.text(max_size=30) | st.lists(parts, max_size=3) | json_values},
            ),
            max_size=3,
        )
        | json_values,
    },
    optional={
        name: json_values | deep_values
        for name in ("system", "stream", "temperature", "top_k", "stop_sequences", "tools", "tool_choice")
    },
)
responses_bodies = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS) | json_values, "input": st.text(max_size=30) | json_values},
    optional={
        name: json_values | deep_values
        for name in (
            "instructions",
            "max_output_tokens",
            "tools",
            "tool_choice",
            "text",
            "reasoning",
            "store",
        )
    },
)


def post(url: str, raw: bytes, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    try:
        status, response_headers, body = call(url, raw=raw, headers=headers)
    except TimeoutError:
        raise AssertionError(f"no answer within 60 s to {raw[:1000]!r}") from None
    encoded = json.dumps(body).encode() if isinstance(body, dict | list) else str(body).encode()
    return status, response_headers.get("content-type", ""), encoded


@FUZZ
@given(raw=st.binary(max_size=3000))
def test_raw_bytes_as_a_chat_body(gateway_url: str, raw: bytes) -> None:
    status, content_type, body = post(f"{gateway_url}/v1/chat/completions", raw)
    assert_no_5xx_and_openai_errors(status, content_type, body, f"raw {raw[:80]!r}")


@FUZZ
@given(body=chat_bodies)
def test_any_json_in_any_chat_field(gateway_url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    status, content_type, answer = post(f"{gateway_url}/v1/chat/completions", raw)
    assert_no_5xx_and_openai_errors(status, content_type, answer, f"chat {raw[:300]!r}")


@FUZZ
@given(body=embedding_bodies)
def test_any_json_in_any_embeddings_field(gateway_url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    status, content_type, answer = post(f"{gateway_url}/v1/embeddings", raw)
    assert_no_5xx_and_openai_errors(status, content_type, answer, f"embeddings {raw[:300]!r}")


@FUZZ
@given(body=anthropic_bodies)
def test_any_json_in_any_messages_field(gateway_url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    status, content_type, answer = post(f"{gateway_url}/v1/messages", raw)
    assert_no_5xx_and_openai_errors(status, content_type, answer, f"messages {raw[:300]!r}", anthropic=True)


@FUZZ
@given(body=responses_bodies)
def test_any_json_in_any_responses_field(gateway_url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    status, content_type, answer = post(f"{gateway_url}/v1/responses", raw)
    assert_no_5xx_and_openai_errors(status, content_type, answer, f"responses {raw[:300]!r}")


header_names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"), min_size=1, max_size=20
).filter(lambda name: name.lower() not in FRAMING)
header_values = st.binary(max_size=60).filter(lambda value: b"\r" not in value and b"\n" not in value)


@FUZZ
@given(
    headers=st.lists(st.tuples(header_names, header_values), max_size=12),
    path=st.sampled_from(["/v1/chat/completions", "/v1/embeddings", "/health", "/v1/models", "/key/info"]),
)
def test_any_headers_on_the_wire(gateway_url: str, headers: list[tuple[str, bytes]], path: str) -> None:
    """Arbitrary header names and bytes, duplicates included (Authorization and x-api-key among them)."""
    parts = urlsplit(gateway_url)
    body = b'{"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}'
    method = b"POST" if "completions" in path or "embeddings" in path else b"GET"
    lines = [b"%s %s HTTP/1.1" % (method, path.encode()), b"Host: gateway", b"Connection: close"]
    lines += [name.encode() + b": " + value for name, value in headers]
    if method == b"POST":
        lines.append(b"Content-Length: %d" % len(body))
    request = b"\r\n".join(lines) + b"\r\n\r\n" + (body if method == b"POST" else b"")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), answer[:200]
    status = int(head.split(b" ", 2)[1])
    content_type = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-type:")
        ),
        "",
    )
    if b"transfer-encoding: chunked" in head.lower():
        payload = _unchunk(payload)
    assert_no_5xx_and_openai_errors(status, content_type, payload, f"headers {headers!r:.300}")


def _unchunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return out


def test_the_gateway_is_healthy_after(gateway_url: str) -> None:
    assert call(f"{gateway_url}/health/liveliness", key=None)[0] == 200
    body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Toujours là ?"}]}
    status, _, answer = call(f"{gateway_url}/v1/chat/completions", body, key=MASTER_KEY)
    assert status == 200 and answer["choices"][0]["message"]["content"]
