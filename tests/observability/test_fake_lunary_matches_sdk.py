"""The fake Lunary is proven with Lunary's own SDK: what lunary-py sends, the fake accepts and decodes.

The lunary package cannot live beside this project's test tools (it pins tenacity<9 and pulls
langchain-community), so it is installed, pinned, into a throwaway virtualenv and run in a subprocess pointed
at the fake with LUNARY_API_URL and LUNARY_PUBLIC_KEY, as a self-hosted Lunary user would. The install needs
PyPI (about a minute), so the test runs when BEDROCK_PROXY_SLOW_TESTS=1, as `.ci/run` sets.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bedrock_proxy.observability.lunary import lunary_events
from tests.fakes.lunary_server import FakeLunary
from tests.observability.conftest import LUNARY_PROJECT
from tests.observability.records import record
from tests.support.sdk_venv import json_type, slow_sdk_tests, venv_env, venv_with

LUNARY_SDK = "lunary==1.4.41"  # the newest release when this test was written (December 2026)

pytestmark = slow_sdk_tests(LUNARY_SDK)

# One successful llm run and one failed run, through lunary-py's public track_event, flushed at exit by
# the SDK's own consumer thread (its atexit hook sends the last batch).
SDK_SCRIPT = """
import lunary

lunary.track_event(
    "llm", "start", "call-ok",
    name="eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
    input=[{"role": "user", "content": "Bonjour"}],
    params={"model": "claude-3-5-sonnet", "temperature": 0.7},
    user_id="user-1",
    tags=["prod"],
    metadata={"team": "a", "latency_ms": 500.0},
    runtime="bedrock-proxy",
)
lunary.track_event(
    "llm", "end", "call-ok",
    output={"role": "assistant", "content": "Salut"},
    token_usage={"prompt": 12, "completion": 9},
)
lunary.track_event("llm", "start", "call-bad", name="claude", input=[{"role": "user", "content": "?"}])
lunary.track_event(
    "llm", "error", "call-bad", error={"message": "bad input", "stack": "ValidationException"}
)
"""


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv holding only the pinned lunary SDK and what it pulls."""
    return venv_with(LUNARY_SDK, tmp_path_factory.mktemp("lunary-sdk"))


def run_sdk(python: Path, fake: FakeLunary, key: str = LUNARY_PROJECT) -> subprocess.CompletedProcess[str]:
    env = venv_env()
    env.update(LUNARY_API_URL=fake.url, LUNARY_PUBLIC_KEY=key)
    return subprocess.run(
        [str(python), "-c", SDK_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(600)
def test_the_lunary_sdks_runs_are_accepted_and_stored_as_lunary_stores_them(
    sdk_python: Path, fake_lunary: FakeLunary
) -> None:
    result = run_sdk(sdk_python, fake_lunary)
    assert result.returncode == 0, result.stderr
    assert "Error sending events" not in result.stderr, result.stderr
    assert fake_lunary.counts["invalid"] == 0 and fake_lunary.counts["unauthorized"] == 0
    assert [(e["event"], e["type"]) for e in fake_lunary.received] == [
        ("start", "llm"),
        ("end", "llm"),
        ("start", "llm"),
        ("error", "llm"),
    ]
    ok, bad = sorted(fake_lunary.runs, key=lambda run: run["status"], reverse=True)
    assert ok["status"] == "success" and ok["name"] == "eu.anthropic.claude-3-5-sonnet-20241022-v2:0"
    assert ok["input"] == [{"role": "user", "content": "Bonjour"}]
    assert ok["output"] == {"role": "assistant", "content": "Salut"}
    assert (ok["promptTokens"], ok["completionTokens"]) == (12, 9)
    assert ok["params"] == {"model": "claude-3-5-sonnet", "temperature": 0.7}
    assert (ok["userId"], ok["tags"], ok["runtime"]) == ("user-1", ["prod"], "bedrock-proxy")
    assert ok["metadata"] == {"team": "a", "latency_ms": 500.0}
    assert bad["status"] == "error" and bad["error"] == {
        "message": "bad input",
        "stack": "ValidationException",
    }


@pytest.mark.timeout(600)
def test_every_field_our_sink_sends_is_one_the_sdk_sends_with_the_samejson_type(
    sdk_python: Path, fake_lunary: FakeLunary
) -> None:
    assert run_sdk(sdk_python, fake_lunary).returncode == 0
    sdk: dict[tuple[str, str], set[str]] = {}
    for sent in fake_lunary.received:
        for key, value in sent.items():
            sdk.setdefault((sent["event"], key), set()).update([] if value is None else [json_type(value)])
    ours = [
        *lunary_events(record(metadata={"user": "user-1", "tags": ["prod"]})),
        lunary_events(record(status=400, error_type="ValidationException", error_message="x", output=None))[
            1
        ],
    ]
    for event in ours:
        for key, value in event.items():
            assert (event["event"], key) in sdk, f"our {event['event']} event sends {key}, the SDK never does"
            assert json_type(value) in sdk[event["event"], key], (
                event["event"],
                key,
                sdk[event["event"], key],
            )


@pytest.mark.timeout(600)
def test_the_sdk_with_a_key_that_is_not_a_project_id_is_refused(
    sdk_python: Path, fake_lunary: FakeLunary
) -> None:
    result = run_sdk(sdk_python, fake_lunary, key="not-a-project-id")
    assert "Error sending events" in result.stderr  # the SDK saw the refusal (Lunary's 402)
    assert fake_lunary.received == [] and fake_lunary.runs == []
    assert fake_lunary.counts["unauthorized"] >= 1
