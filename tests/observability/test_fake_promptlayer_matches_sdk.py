"""The fake PromptLayer is useful only if it keeps the real contract: the promptlayer SDK's log_request
lands in it. The SDK runs in a subprocess (it reads its base URL from the environment at import), pointed at
the fake with PROMPTLAYER_BASE_URL (current SDKs) and URL_API_PROMPTLAYER (the 1.0 line)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.promptlayer_server import FakePromptLayer, request_problems
from tests.support.processes import clean_env

API_KEY = "pl_test_0123456789"

SDK_SCRIPT = """
import json, sys, time
from promptlayer import PromptLayer

started = time.time()
hello = [{"type": "text", "text": "Hello"}]
hi = [{"type": "text", "text": "Hi"}]
try:
    result = PromptLayer(api_key=sys.argv[1]).log_request(
        provider="openai",
        model="gpt-4o",
        input={"type": "chat", "messages": [{"role": "user", "content": hello}]},
        output={"type": "chat", "messages": [{"role": "assistant", "content": hi}]},
        request_start_time=started,
        request_end_time=started + 0.5,
        parameters={"temperature": 0.2},
        tags=["sdk"],
        metadata={"user_id": "user-1"},
        input_tokens=3,
        output_tokens=1,
        price=0.0001,
    )
except Exception as error:  # newer SDKs raise where the 1.0 line warned and returned None
    result = {"refused": type(error).__name__, "message": str(error)}
print(json.dumps(result))
"""


@pytest.fixture
def fake_promptlayer() -> Iterator[FakePromptLayer]:
    server = FakePromptLayer(API_KEY)
    server.start()
    yield server
    server.stop()


def run_sdk(fake: FakePromptLayer, api_key: str) -> subprocess.CompletedProcess[str]:
    env = clean_env({"PROMPTLAYER_BASE_URL": fake.url, "URL_API_PROMPTLAYER": fake.url})
    return subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, api_key], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_sdks_log_request_is_accepted_and_decoded(fake_promptlayer: FakePromptLayer) -> None:
    result = run_sdk(fake_promptlayer, API_KEY)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["id"] == 1  # the SDK got the 201 answer
    [logged] = fake_promptlayer.requests_logged
    assert logged["provider"] == "openai" and logged["model"] == "gpt-4o"
    assert logged["input"]["messages"][0]["content"] == [{"type": "text", "text": "Hello"}]
    assert (logged["input_tokens"], logged["output_tokens"]) == (3, 1)
    assert logged["tags"] == ["sdk"] and logged["metadata"] == {"user_id": "user-1"}
    assert logged["request_end_time"] - logged["request_start_time"] == pytest.approx(0.5)


def test_the_sdk_with_a_wrong_key_is_refused(fake_promptlayer: FakePromptLayer) -> None:
    result = run_sdk(fake_promptlayer, "pl_wrong")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    # the SDK saw the refusal: the 1.0 line warns and returns None, later ones raise PromptLayerAPIError
    # carrying the fake's message
    assert answer is None or "Invalid API key" in answer["message"], answer
    assert fake_promptlayer.requests_logged == []
    assert fake_promptlayer.counts["unauthorized"] == 1


GOOD = {
    "provider": "amazon.bedrock",
    "model": "m",
    "input": {"type": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
    "output": {"type": "chat", "messages": []},
    "request_start_time": 1.0,
    "request_end_time": 2.0,
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"provider": ""}, "provider is required"),
        ({"input": {"type": "chat", "messages": [{"role": "user", "content": "x"}]}}, "list of parts"),
        ({"output": {"messages": []}}, "output must be a chat or completion"),
        ({"request_end_time": 0.5}, "before request_start_time"),
        ({"metadata": {"n": 1}}, "metadata must map strings"),
        ({"status": "FAILED"}, "status must be one of"),
    ],
)
def test_the_fake_refuses_bodies_that_break_the_contract(change, problem) -> None:
    assert request_problems(GOOD) == []
    assert any(problem in p for p in request_problems({**GOOD, **change}))
