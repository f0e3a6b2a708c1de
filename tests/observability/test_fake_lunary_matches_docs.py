"""The fake Lunary is useful only if it keeps the published run ingestion contract.

The lunary SDK cannot be installed beside this project's test tools (it pins tenacity<9, which the installed
tools' tenacity 9 and the promptlayer SDK's tenacity>=9.1.2 exclude), so the fake is proven against the
documented API instead: the events the SDK's track_event builds (its documented fields, its "lunary-py"
runtime, an OpenAI-style llm run) are accepted and stored as Lunary stores a run, and keys and events
Lunary refuses are refused the same way. test_fake_lunary_matches_sdk.py runs the real SDK in a throwaway
virtualenv (when BEDROCK_PROXY_SLOW_TESTS=1).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from tests.fakes.lunary_server import FakeLunary, event_problems
from tests.observability.conftest import LUNARY_PROJECT

RUN = str(uuid.uuid4())


def sdk_event(event: str, **fields: Any) -> dict[str, Any]:
    """An event with every key lunary-py's track_event sets (None where it has no value)."""
    base = {
        "event": event,
        "type": "llm",
        "name": None,
        "userId": None,
        "userProps": None,
        "tags": None,
        "threadTags": None,
        "runId": RUN,
        "parentRunId": None,
        "timestamp": "2026-01-01T10:00:00+00:00",
        "message": None,
        "input": None,
        "output": None,
        "error": None,
        "feedback": None,
        "runtime": "lunary-py",
        "tokensUsage": None,
        "metadata": None,
        "params": None,
        "templateId": None,
        "appId": None,
        "threadMetadata": None,
    }
    return {**base, **fields}


START = sdk_event(
    "start",
    name="gpt-4o",
    input=[{"role": "user", "content": "Hello"}],
    params={"temperature": 0.2},
    userId="user-1",
    userProps={"name": "Ada"},
    tags=["prod"],
    metadata={"team": "a"},
)
END = sdk_event(
    "end",
    timestamp="2026-01-01T10:00:02+00:00",
    output={"role": "assistant", "content": "Hi"},
    tokensUsage={"prompt": 5, "completion": 2},
)


def ingest(fake: FakeLunary, events: Any, key: str = LUNARY_PROJECT) -> tuple[int, Any]:
    request = urllib.request.Request(
        fake.url + "/v1/runs/ingest",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_sdks_start_and_end_events_become_one_successful_run(fake_lunary: FakeLunary) -> None:
    status, answer = ingest(fake_lunary, [END, START])  # taken in timestamp order, as Lunary does
    assert status == 200
    assert answer == {"results": [{"id": RUN, "success": True}, {"id": RUN, "success": True}]}
    [run] = fake_lunary.runs
    assert run["status"] == "success" and run["name"] == "gpt-4o" and run["userId"] == "user-1"
    assert run["input"] == START["input"] and run["output"] == END["output"]
    assert (run["promptTokens"], run["completionTokens"]) == (5, 2)
    assert run["createdAt"] < run["endedAt"]


def test_a_single_event_and_an_error_event_are_accepted(fake_lunary: FakeLunary) -> None:
    assert ingest(fake_lunary, START)[0] == 200
    error = sdk_event("error", timestamp="2026-01-01T10:00:01Z", error={"message": "boom", "stack": "x"})
    assert ingest(fake_lunary, [error])[1]["results"] == [{"id": RUN, "success": True}]
    [run] = fake_lunary.runs
    assert run["status"] == "error" and run["error"]["message"] == "boom"


def test_a_second_start_of_a_run_is_a_duplicate(fake_lunary: FakeLunary) -> None:
    ingest(fake_lunary, [START])
    [result] = ingest(fake_lunary, [START])[1]["results"]
    assert result["success"] is False and "already exists" in result["error"]


@pytest.mark.parametrize(("key", "status"), [("not-a-uuid", 402), (str(uuid.uuid4()), 401)])
def test_keys_lunary_refuses_are_refused_the_same_way(fake_lunary: FakeLunary, key: str, status: int) -> None:
    assert ingest(fake_lunary, [START], key=key)[0] == status
    assert fake_lunary.runs == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"type": "generation"}, "type must be one of"),
        ({"runId": "run-1"}, "runId must be a UUID"),
        ({"timestamp": "yesterday"}, "Invalid isoformat"),
        ({"tags": "prod"}, "tags must be a list"),
        ({"tokensUsage": {"prompt": "5"}}, "tokensUsage"),
        ({"error": "boom"}, "error must be an object"),
    ],
)
def test_events_that_break_the_schema_are_refused(change: dict[str, Any], problem: str) -> None:
    assert event_problems(START) == []
    assert any(problem in p for p in event_problems({**START, **change}))
