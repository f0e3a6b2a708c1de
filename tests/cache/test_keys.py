"""Which parts of a request change its cache key, and which do not."""

from __future__ import annotations

import pytest

from bedrock_proxy.cache import response_key

BASE = {
    "model": "claude-3-haiku",
    "messages": [{"role": "user", "content": "Bonjour"}],
    "temperature": 0.2,
}
TOOL = {"type": "function", "function": {"name": "meteo", "parameters": {"type": "object"}}}

CHANGES_THE_ANSWER = [
    ("messages", {"messages": [{"role": "user", "content": "Bonsoir"}]}),
    ("system message added", {"messages": [{"role": "system", "content": "Sois bref"}, *BASE["messages"]]}),
    ("temperature", {"temperature": 0.9}),
    ("top_p", {"top_p": 0.5}),
    ("top_k", {"top_k": 40}),
    ("max_tokens", {"max_tokens": 10}),
    ("max_completion_tokens", {"max_completion_tokens": 10}),
    ("stop", {"stop": ["\n"]}),
    ("n", {"n": 2}),
    ("tools", {"tools": [TOOL]}),
    ("tool_choice", {"tools": [TOOL], "tool_choice": "required"}),
    ("response_format", {"response_format": {"type": "json_object"}}),
    ("seed", {"seed": 7}),
    ("an extra the gateway does not know", {"reasoning_effort": "high"}),
]
SAME_ANSWER = [
    ("user", {"user": "alice"}),
    ("metadata", {"metadata": {"trace_id": "t-1", "tags": ["a"]}}),
    ("stream", {"stream": True}),
    ("stream_options", {"stream": True, "stream_options": {"include_usage": True}}),
    ("cache controls", {"cache": {"no-store": True, "ttl": 5}}),
]


def key(changes: dict, model: str = "claude-3-haiku", kind: str = "chat") -> str:
    return response_key(kind, model, {**BASE, **changes})


@pytest.mark.parametrize(("field", "changes"), CHANGES_THE_ANSWER, ids=[c[0] for c in CHANGES_THE_ANSWER])
def test_a_field_that_changes_the_answer_changes_the_key(field: str, changes: dict) -> None:
    assert key(changes) != key({})


@pytest.mark.parametrize(("field", "changes"), SAME_ANSWER, ids=[c[0] for c in SAME_ANSWER])
def test_a_field_that_does_not_change_the_answer_keeps_the_key(field: str, changes: dict) -> None:
    assert key(changes) == key({})


def test_a_temperature_written_as_an_integer_is_the_same_temperature() -> None:
    assert key({"temperature": 1}) == key({"temperature": 1.0})


def test_the_public_model_name_is_part_of_the_key() -> None:
    assert key({}, model="claude-3-haiku") != key({}, model="claude-3-sonnet")


def test_chat_and_embedding_keys_never_collide() -> None:
    body = {"model": "m", "input": "x"}
    assert response_key("chat", "m", body) != response_key("embedding", "m", body)


def test_key_order_in_the_body_does_not_matter() -> None:
    forward = {"messages": BASE["messages"], "temperature": 0.2, "top_p": 0.9}
    backward = {"top_p": 0.9, "temperature": 0.2, "messages": BASE["messages"]}
    assert response_key("chat", "m", forward) == response_key("chat", "m", backward)


def test_a_key_is_a_sha256_named_by_its_kind() -> None:
    kind, _, digest = key({}).partition(":")
    assert kind == "chat"
    assert len(digest) == 64 and int(digest, 16) >= 0
