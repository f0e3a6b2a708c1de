"""The fake Helicone is proven with Helicone's own Python SDK: what its manual logger sends, the fake accepts.

helicone-helpers' HeliconeManualLogger is Helicone's official client of the logging API the sink uses
(POST {endpoint}/custom/v1/log). It is installed, pinned, into a throwaway virtualenv (it is not one of this
project's dependencies) and run in a subprocess pointed at the fake with its logging_endpoint. The install
needs PyPI, so the test runs when BEDROCK_PROXY_SLOW_TESTS=1, as `.ci/run` sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedrock_proxy.observability.helicone import helicone_log
from bedrock_proxy.observability.llmops import view
from tests.fakes.helicone_server import FakeHelicone
from tests.observability.records import T0, record
from tests.support.processes import clean_env

HELICONE_SDK = "helicone-helpers==1.2.1"  # the newest release when this test was written (December 2026)
SLOW = os.environ.get("BEDROCK_PROXY_SLOW_TESTS") == "1"
API_KEY = "sk-helicone-test"

pytestmark = pytest.mark.skipif(
    not SLOW,
    reason=f"slow: set BEDROCK_PROXY_SLOW_TESTS=1 to install {HELICONE_SDK} from PyPI into a virtualenv",
)

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


def _venv_env() -> dict[str, str]:
    env = clean_env()
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_CONSTRAINT", "BEDROCK_PROXY_SLOW_TESTS"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv holding only the pinned Helicone SDK and what it pulls."""
    venv = tmp_path_factory.mktemp("helicone-sdk") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", HELICONE_SDK],
        env=_venv_env(),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, f"pip install {HELICONE_SDK} failed:\n{install.stderr[-3000:]}"
    return python


@pytest.fixture
def fake_helicone() -> Iterator[FakeHelicone]:
    server = FakeHelicone(API_KEY)
    server.start()
    yield server
    server.stop()


def run_sdk(python: Path, fake: FakeHelicone, key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    env = _venv_env()
    env["HELICONE_API_KEY"] = key
    return subprocess.run(
        [str(python), "-c", SDK_SCRIPT, fake.url], env=env, capture_output=True, text=True, timeout=120
    )


def _json_type(value: Any) -> str:
    return type(json.loads(json.dumps(value))).__name__


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
                assert _json_type(value) == _json_type(sent), (part, key)


@pytest.mark.timeout(600)
def test_the_sdk_with_a_wrong_key_is_refused(sdk_python: Path, fake_helicone: FakeHelicone) -> None:
    run_sdk(sdk_python, fake_helicone, key="sk-wrong")
    assert fake_helicone.logs == []
    assert fake_helicone.counts["unauthorized"] == 1
