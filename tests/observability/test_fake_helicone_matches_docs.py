"""The fake Helicone is useful only if it keeps the documented logging contract.

Helicone's Python helper (helicone-helpers) cannot be installed beside this project's test tools (it pins
httpx<0.29), so the fake is proven against the documented API instead: the request bodies of Helicone's
cURL manual-logger docs (a custom chat model, a tool log, the shape helicone-helpers' HeliconeManualLogger
builds) are accepted and decoded, and bodies that break the published HeliconeAsyncLogRequest type or
carry a wrong key are refused as Helicone refuses them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.fakes.helicone_server import FakeHelicone
from tests.observability.conftest import HELICONE_API_KEY

CHAT_LOG = {  # the docs' custom model example: an OpenAI-shaped request and response
    "providerRequest": {
        "url": "custom-model-nopath",
        "json": {"model": "my-model", "messages": [{"role": "user", "content": "Hello"}]},
        "meta": {"Helicone-User-Id": "user-1"},
    },
    "providerResponse": {
        "headers": {"content-type": "application/json"},
        "status": 200,
        "json": {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "my-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        },
    },
    "timing": {
        "startTime": {"seconds": 1625686222, "milliseconds": 500},
        "endTime": {"seconds": 1625686223, "milliseconds": 750},
        "timeToFirstToken": 120,
    },
}
TOOL_LOG = {  # the docs' tool example (no timeToFirstToken, response headers)
    "providerRequest": {
        "url": "custom-model-nopath",
        "json": {"_type": "tool", "toolName": "weather_api", "input": {"location": "Paris"}},
        "meta": {"user_id": "user_123", "session_id": "session_456"},
    },
    "providerResponse": {
        "json": {"_type": "tool", "toolName": "weather_api", "temperature": 18.5},
        "status": 200,
        "headers": {"content-type": "application/json"},
    },
    "timing": {
        "startTime": {"seconds": 1625686222, "milliseconds": 500},
        "endTime": {"seconds": 1625686223, "milliseconds": 750},
    },
}
MANUAL_LOGGER_LOG = {  # what HeliconeManualLogger.send_log builds: empty meta, null textBody and TTFT
    "providerRequest": {"url": "custom-model-nopath", "json": {"model": "m"}, "meta": {}},
    "providerResponse": {"headers": {}, "status": 200, "json": {"_type": "unknown"}, "textBody": None},
    "timing": {
        "startTime": {"seconds": 1, "milliseconds": 0},
        "endTime": {"seconds": 2, "milliseconds": 999},
        "timeToFirstToken": None,
    },
}


def send(
    fake: FakeHelicone, body: Any, key: str = HELICONE_API_KEY, headers: dict[str, str] | None = None
) -> int:
    request = urllib.request.Request(
        fake.url + "/custom/v1/log",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    "body", [CHAT_LOG, TOOL_LOG, MANUAL_LOGGER_LOG], ids=["chat", "tool", "manual-logger"]
)
def test_the_documented_log_bodies_are_accepted_and_decoded(fake_helicone: FakeHelicone, body) -> None:
    status = send(fake_helicone, body, headers={"Helicone-User-Id": "user-9", "Helicone-Property-Team": "a"})
    assert status == 200
    [log] = fake_helicone.logs
    assert log["body"] == body
    assert log["headers"]["helicone-user-id"] == "user-9"
    assert log["headers"]["helicone-property-team"] == "a"


def test_a_wrong_key_is_refused_with_401(fake_helicone: FakeHelicone) -> None:
    assert send(fake_helicone, CHAT_LOG, key="sk-wrong") == 401
    assert fake_helicone.logs == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("providerRequest",), None, "providerRequest is required"),
        (("providerRequest", "json"), [1], "providerRequest.json"),
        (("providerRequest", "meta"), {"n": 1}, "providerRequest.meta"),
        (("providerResponse", "status"), "200", "providerResponse.status"),
        (("timing", "startTime"), {"seconds": 1.5, "milliseconds": 0}, "timing.startTime"),
        (("timing", "timeToFirstToken"), -3, "timeToFirstToken"),
    ],
)
def test_bodies_that_break_the_published_type_are_refused(fake_helicone: FakeHelicone, path, value, problem):
    body = json.loads(json.dumps(CHAT_LOG))
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is None:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    assert send(fake_helicone, body) == 400
    assert fake_helicone.logs == []
