"""The pure mappings of the LLM-ops sinks (W&B Weave, Helicone, Lunary, PromptLayer), by tables.

What a user would notice: a record without messages (logging off) carries none to any product; settings
resolve to the URLs the products' own SDKs use; OpenAI messages become the Prompt Blueprint PromptLayer
shows; failures land in each product's error fields; retried deliveries keep their ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedrock_proxy.observability.helicone import header_value, helicone_headers, helicone_log, timing_point
from bedrock_proxy.observability.llmops import view
from bedrock_proxy.observability.lunary import lunary_events
from bedrock_proxy.observability.promptlayer import blueprint_message, error_type, promptlayer_request
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.weave import split_project, trace_server_url, weave_call
from tests.observability.records import T0, attempt, record


def every_payload(r: CallRecord) -> list[Any]:
    v = view(r)
    return [
        weave_call(r, "e/p"),
        helicone_log(r, v),
        helicone_headers(r, v),
        lunary_events(r),
        promptlayer_request(r),
    ]


def test_a_record_without_messages_sends_no_messages_anywhere() -> None:
    with_messages = record(metadata={"user_id": "u1"})
    without = record(input=None, output=None, metadata={"user_id": "u1"})
    assert "Bonjour" in json.dumps(every_payload(with_messages))
    text = json.dumps(every_payload(without))
    assert "Bonjour" not in text and "Salut" not in text
    assert "u1" in text  # the rest of the record is still there


def test_the_same_record_keeps_the_same_ids_so_a_retry_never_duplicates() -> None:
    r = record()
    assert weave_call(r, "e/p")["id"] == weave_call(r, "e/p")["id"]
    assert lunary_events(r)[0]["runId"] == lunary_events(r)[1]["runId"] == lunary_events(r)[0]["runId"]
    v = view(r)
    assert (
        helicone_headers(r, v)["Helicone-Request-Id"] == helicone_headers(r, view(r))["Helicone-Request-Id"]
    )
    assert weave_call(r, "e/p")["id"] != weave_call(record(), "e/p")["id"]


@pytest.mark.parametrize(
    ("base_url", "override", "expected"),
    [
        (None, None, "https://trace.wandb.ai"),
        ("https://api.wandb.ai", None, "https://trace.wandb.ai"),
        ("https://acme.wandb.io/", None, "https://acme.wandb.io/traces"),
        ("http://wandb.internal:8080", None, "http://wandb.internal:8080/traces"),
        ("https://acme.wandb.io", "https://traces.acme.io/", "https://traces.acme.io"),
    ],
)
def test_the_weave_trace_server_is_where_the_sdk_looks(base_url, override, expected) -> None:
    assert trace_server_url(base_url, override) == expected


@pytest.mark.parametrize(
    ("project", "entity", "expected"),
    [
        ("litellm-bedrock", None, (None, "litellm-bedrock")),
        ("team/litellm-bedrock", None, ("team", "litellm-bedrock")),
        ("team/litellm-bedrock", "other", ("other", "litellm-bedrock")),
        ("litellm-bedrock", "me", ("me", "litellm-bedrock")),
    ],
)
def test_wandb_project_may_name_its_entity(project, entity, expected) -> None:
    assert split_project(project, entity) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"role": "user", "content": "Bonjour"},
            {"role": "user", "content": [{"type": "text", "text": "Bonjour"}]},
        ),
        (
            {"role": "developer", "content": "Sois bref"},
            {"role": "system", "content": [{"type": "text", "text": "Sois bref"}]},
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Que vois-tu ?"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Que vois-tu ?"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                ],
            },
        ),
        (
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "meteo", "arguments": '{"v":"Paris"}'},
                    }
                ],
            },
            {
                "role": "assistant",
                "content": [],
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "meteo", "arguments": '{"v":"Paris"}'},
                    }
                ],
            },
        ),
        (
            {"role": "tool", "tool_call_id": "c1", "content": "18°C"},
            {"role": "tool", "content": [{"type": "text", "text": "18°C"}], "tool_call_id": "c1"},
        ),
    ],
    ids=["text", "developer", "image", "tool-calls", "tool-result"],
)
def test_openai_messages_become_prompt_blueprint_messages(message, expected) -> None:
    assert blueprint_message(message) == expected


@pytest.mark.parametrize(
    ("status", "error", "attempts", "expected"),
    [
        (429, "ThrottlingException", (attempt(status=429),), "PROVIDER_RATE_LIMIT"),
        (504, "Timeout", (attempt(status=504),), "PROVIDER_TIMEOUT"),
        (403, "AccessDeniedException", (attempt(status=403),), "PROVIDER_AUTH_ERROR"),
        (400, "ValidationException", (attempt(status=400),), "PROVIDER_ERROR"),
        (404, "model_not_found", (), "UNKNOWN_ERROR"),
    ],
)
def test_failures_take_promptlayers_error_categories(status, error, attempts, expected) -> None:
    r = record(status=status, error_type=error, error_message="it failed", attempts=attempts)
    assert error_type(r) == expected
    body = promptlayer_request(r)
    assert (body["status"], body["error_type"], body["error_message"]) == ("ERROR", expected, "it failed")


def test_a_failure_is_an_error_in_every_product() -> None:
    r = record(status=400, error_type="ValidationException", error_message="bad input", output=None)
    assert weave_call(r, "e/p")["exception"] == "bad input"
    assert helicone_log(r, view(r))["providerResponse"]["json"]["error"]["message"] == "bad input"
    assert lunary_events(r)[1] == {
        "type": "llm",
        "runId": lunary_events(r)[0]["runId"],
        "timestamp": lunary_events(r)[1]["timestamp"],
        "runtime": "bedrock-proxy",
        "event": "error",
        "error": {"message": "bad input", "stack": "ValidationException"},
    }


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (T0, {"seconds": int(T0), "milliseconds": 0}),
        (10.25, {"seconds": 10, "milliseconds": 250}),
        (10.9999, {"seconds": 10, "milliseconds": 999}),
    ],
)
def test_helicone_times_are_whole_seconds_and_milliseconds(t, expected) -> None:
    assert timing_point(t) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("équipe a", "?quipe a"), ("a\r\nb", "a??b"), (["x", 1], '["x",1]'), (True, "true")],
)
def test_helicone_header_values_are_one_line_of_printable_ascii(value, expected) -> None:
    assert header_value(value) == expected


def test_time_to_first_token_reaches_every_product() -> None:
    r = record(stream=True, first_token_time=T0 + 0.12)
    assert weave_call(r, "e/p")["attributes"]["bedrock_proxy"]["time_to_first_token_ms"] == pytest.approx(120)
    assert helicone_log(r, view(r))["timing"]["timeToFirstToken"] == 120
    assert lunary_events(r)[0]["metadata"]["time_to_first_token_ms"] == pytest.approx(120)
    assert float(promptlayer_request(r)["metadata"]["time_to_first_token_ms"]) == pytest.approx(120)
