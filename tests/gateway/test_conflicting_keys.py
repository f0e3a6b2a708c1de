"""Issue 14, finding 10: two Authorization or x-api-key headers that name different keys used to be resolved
silently (the last one won); now the request is refused with a 400 that says why. Headers that agree pass."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.gateway.conftest import assert_openai_error

CHAT = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}


def post_with(gateway_url: str, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    """A chat request carrying exactly `headers`, duplicates included (urllib cannot send duplicates)."""
    parts = urlsplit(gateway_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps(CHAT).encode()
    connection.putrequest("POST", "/v1/chat/completions")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    payload = json.loads(response.read())
    connection.close()
    return response.status, payload


@pytest.mark.parametrize(
    ("headers", "what"),
    [
        ([("Authorization", "Bearer sk-1234"), ("Authorization", "Bearer sk-team-a")], "two Authorization"),
        ([("Authorization", "Bearer sk-team-a"), ("Authorization", "Bearer sk-1234")], "two Authorization"),
        ([("x-api-key", "sk-team-b"), ("x-api-key", "sk-1234")], "two x-api-key"),
        ([("Authorization", "Bearer sk-team-b"), ("x-api-key", "sk-1234")], "an Authorization header and"),
    ],
    ids=["bearer-then-bearer", "bearer-reversed", "two-x-api-keys", "bearer-and-x-api-key"],
)
def test_headers_naming_different_keys_are_refused(
    gateway_url: str, headers: list[tuple[str, str]], what: str
) -> None:
    status, body = post_with(gateway_url, headers)
    assert status == 400
    error = assert_openai_error(body, code="conflicting_api_keys")
    assert what in error["message"] and "sk-" not in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        [("Authorization", "Bearer sk-team-a"), ("Authorization", "Bearer sk-team-a")],
        [("Authorization", "Bearer sk-team-a"), ("x-api-key", "sk-team-a")],
    ],
    ids=["same-bearer-twice", "bearer-and-same-x-api-key"],
)
def test_headers_that_agree_are_accepted(gateway_url: str, headers: list[tuple[str, str]]) -> None:
    status, body = post_with(gateway_url, headers)
    assert status == 200, body
