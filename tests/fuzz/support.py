"""What every fuzz test asserts, and how long it runs: BEDROCK_PROXY_FUZZ_EXAMPLES examples per test (a
short run in the normal suite; docs/security.md gives the release run's number)."""

from __future__ import annotations

import json
import os

FUZZ_EXAMPLES = int(os.environ.get("BEDROCK_PROXY_FUZZ_EXAMPLES", "10"))
MASTER_KEY = "sk-1234"


def assert_no_5xx_and_openai_errors(
    status: int, content_type: str, body: bytes, what: str, *, anthropic: bool = False
) -> None:
    """No 5xx; every error a JSON object {"error": {message, type, param, code}} with a message (on the
    Anthropic Messages routes, `anthropic`: {"type": "error", "error": {type, message}})."""
    assert status < 500, f"{what}: {status} {body[:500]!r}"
    if status < 400:
        return
    assert content_type.startswith("application/json"), f"{what}: {status} {content_type} {body[:300]!r}"
    error = json.loads(body)
    if anthropic:
        assert isinstance(error, dict) and error.get("type") == "error", f"{what}: {error}"
        assert set(error["error"]) == {"type", "message"} and error["error"]["message"], f"{what}: {error}"
        return
    assert isinstance(error, dict) and set(error) == {"error"}, f"{what}: {error}"
    assert set(error["error"]) == {"message", "type", "param", "code"}, f"{what}: {error}"
    assert isinstance(error["error"]["message"], str) and error["error"]["message"], f"{what}: {error}"
