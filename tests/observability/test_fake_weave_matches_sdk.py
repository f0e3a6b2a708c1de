"""The fake Weave server is useful only if it keeps the real contract: the weave SDK's calls land in it.

weave.init runs in a subprocess (it keeps process-wide state and background threads), pointed at the fake
with WANDB_BASE_URL exactly as a self-managed W&B user would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.weave_server import FakeWeave, call_problems
from tests.support.processes import clean_env

API_KEY = "a" * 40

SDK_SCRIPT = """
import weave
client = weave.init("sdk-entity/sdk-project")

@weave.op(kind="llm")
def chat(messages: list, model: str) -> dict:
    return {"model": model, "content": "hello", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}

chat([{"role": "user", "content": "hi"}], model="anthropic.claude-3-haiku")
client.flush()
"""


@pytest.fixture
def fake_weave() -> Iterator[FakeWeave]:
    server = FakeWeave(API_KEY)
    server.start()
    yield server
    server.stop()


def run_sdk(fake: FakeWeave, api_key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    env = clean_env({"WANDB_BASE_URL": fake.url, "WANDB_API_KEY": api_key, "WEAVE_PRINT_CALL_LINK": "false"})
    return subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_weave_sdk_creates_its_project_and_its_call_is_accepted_and_decoded(
    fake_weave: FakeWeave,
) -> None:
    result = run_sdk(fake_weave)
    assert result.returncode == 0, result.stderr
    assert "Project" in fake_weave.graphql_operations and "UpsertModel" in fake_weave.graphql_operations
    [call] = fake_weave.calls
    assert call["project_id"] == "sdk-entity/sdk-project"
    assert call["inputs"]["messages"] == [{"role": "user", "content": "hi"}]
    assert call["output"]["content"] == "hello"
    assert call["attributes"]["weave"]["kind"] == "llm"
    usage = call["summary"]["usage"]["anthropic.claude-3-haiku"]
    assert usage["prompt_tokens"] == 3 and usage["completion_tokens"] == 2 and usage["requests"] == 1
    assert call["summary"]["status_counts"] == {"success": 1, "error": 0}
    assert fake_weave.counts["invalid"] == 0 and fake_weave.counts["unauthorized"] == 0


def test_the_weave_sdk_with_a_wrong_key_is_refused(fake_weave: FakeWeave) -> None:
    run_sdk(fake_weave, api_key="b" * 40)
    assert fake_weave.calls == []
    assert fake_weave.counts["unauthorized"] >= 1


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.pop("op_name"), "missing op_name"),
        (lambda c: c.update(inputs=[1]), "inputs must be dict"),
        (lambda c: c.update(ended_at="2020-01-01T00:00:00Z"), "ended_at before started_at"),
        (lambda c: c.update(project_id="other/p"), "project_id"),
        (lambda c: c.update(colour="red"), "unknown field colour"),
    ],
)
def test_the_fake_refuses_calls_that_break_the_schema(change, problem) -> None:
    call = {
        "id": "1",
        "trace_id": "t",
        "project_id": "e/p",
        "op_name": "op",
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T00:00:01Z",
        "attributes": {},
        "inputs": {},
        "summary": {},
    }
    assert call_problems(call, "e/p") == []
    change(call)
    assert any(problem in p for p in call_problems(call, "e/p"))
