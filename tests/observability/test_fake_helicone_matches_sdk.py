"""The fake Helicone is proven with Helicone's own Python SDK: what its manual logger sends, the fake accepts.

helicone-helpers' HeliconeManualLogger is Helicone's official client of the logging API the sink uses
(POST {endpoint}/custom/v1/log). It is installed, pinned, into a throwaway virtualenv (it is not one of this
project's dependencies) and run in a subprocess pointed at the fake with its logging_endpoint. The install
needs PyPI, so the test runs when BEDROCK_PROXY_SLOW_TESTS=1, as `.ci/run` sets.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bedrock_proxy.observability.helicone import helicone_log
from bedrock_proxy.observability.llmops import view
from tests.fakes.helicone_server import FakeHelicone
from tests.observability.conftest import HELICONE_API_KEY
from tests.observability.records import T0, record
from tests.support.sdk_venv import json_type, slow_sdk_tests, venv_env, venv_with

HELICONE_SDK = "helicone-helpers==1.2.1"  # the newest release when this test was written (December 2026)

pytestmark = slow_sdk_tests(HELICONE_SDK)

# One chat completion logged through the manual logger's log_request, as Helicone's docs show it.
SDK_SCRIPT = """
import os, sys
from helicone_helpers import HeliconeManualLogger

logger = HeliconeManualLogger(api_key=os.environ["HELICONE_API_KEY"], logging_endpoint=sys.argv[1])
request = {
    "model": "claude-3-5-sonnet",
    "temperature": 0.7,
    "messages": [{"role": "user", "content": "Bonjour"}],
}

def operation(recorder):
    response = {
        "id": "req-1",
        "object": "chat.completion",
        "model": "eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Salut"}, "finish_reason": "stop"}
        ],
    }
    recorder.append_results(response)
    return response

logger.log_request(request, operation, additional_headers={"Helicone-User-Id": "user-1"})
"""


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv holding only the pinned Helicone SDK and what it pulls."""
    return venv_with(HELICONE_SDK, tmp_path_factory.mktemp("helicone-sdk"))


def run_sdk(
    python: Path, fake: FakeHelicone, key: str = HELICONE_API_KEY
) -> subprocess.CompletedProcess[str]:
    env = venv_env()
    env["HELICONE_API_KEY"] = key
    return subprocess.run(
        [str(python), "-c", SDK_SCRIPT, fake.url], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(600)
def test_the_helicone_sdks_log_is_accepted_and_decoded(sdk_python: Path, fake_helicone: FakeHelicone) -> None:
    result = run_sdk(sdk_python, fake_helicone)
    assert result.returncode == 0, result.stderr
    assert fake_helicone.counts["invalid"] == 0 and fake_helicone.counts["unauthorized"] == 0
    [log] = fake_helicone.logs
    assert log["path"] == "/custom/v1/log"
    assert log["headers"]["helicone-user-id"] == "user-1"
    body = log["body"]
    assert body["providerRequest"]["json"]["messages"] == [{"role": "user", "content": "Bonjour"}]
    assert body["providerResponse"]["status"] == 200
    assert body["providerResponse"]["json"]["choices"][0]["message"]["content"] == "Salut"
    start, end = body["timing"]["startTime"], body["timing"]["endTime"]
    assert (start["seconds"], start["milliseconds"]) <= (end["seconds"], end["milliseconds"])


@pytest.mark.timeout(600)
def test_our_sinks_log_has_the_sdks_structure(sdk_python: Path, fake_helicone: FakeHelicone) -> None:
    assert run_sdk(sdk_python, fake_helicone).returncode == 0
    [log] = fake_helicone.logs
    r = record(stream=True, first_token_time=T0 + 0.12)
    ours = helicone_log(r, view(r))
    for part in ("providerRequest", "providerResponse", "timing"):
        for key, value in ours[part].items():
            assert key in log["body"][part], f"our {part} sends {key}, the SDK never does"
            sent = log["body"][part][key]
            if sent is not None:  # the SDK sends null where it has no value (textBody, timeToFirstToken)
                assert json_type(value) == json_type(sent), (part, key)


@pytest.mark.timeout(600)
def test_the_sdk_with_a_wrong_key_is_refused(sdk_python: Path, fake_helicone: FakeHelicone) -> None:
    run_sdk(sdk_python, fake_helicone, key="sk-wrong")
    assert fake_helicone.logs == []
    assert fake_helicone.counts["unauthorized"] == 1
