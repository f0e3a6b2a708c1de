"""A cache hit leaves one CallRecord marked `cache_hit`, with the stored usage and zero cost."""

from __future__ import annotations

from bedrock_proxy.openai.chat_request import parse_chat_request
from bedrock_proxy.openai.embeddings import parse_embedding_request
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.records import Recorder

ANSWER = {
    "id": "chatcmpl-r1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "claude-3-haiku",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Oui"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}


class Sink:
    def __init__(self) -> None:
        self.records: list = []

    def submit(self, record: object) -> None:
        self.records.append(record)


def test_a_chat_hit_record_has_the_stored_usage_zero_cost_and_no_attempt() -> None:
    request = parse_chat_request(
        {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Ça va ?"}], "user": "alice"}
    )
    ctx = RequestContext("r1", model="claude-3-haiku")
    record = Recorder(Sink(), log_messages=True).cache_hit(ctx, "chat", request, ANSWER, stream=True)
    assert record.cache_hit is True
    assert record.cost == record.input_cost == record.output_cost == 0.0
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (12, 3)
    assert record.attempts == () and record.deployment_id == ""
    assert record.status == 200 and record.stream is True
    assert record.output == {"role": "assistant", "content": "Oui"} and record.user == "alice"
    assert Recorder.cost_headers(record) == [
        (b"x-litellm-response-cost", b"0"),
        (b"x-bedrock-proxy-cost-usd", b"0"),
    ]


def test_an_embedding_hit_record_is_marked_too() -> None:
    request = parse_embedding_request({"model": "titan-embed-text", "input": "bonjour"})
    answer = {
        "object": "list",
        "data": [{"embedding": [0.1, 0.2], "index": 0}],
        "usage": {"prompt_tokens": 2},
    }
    record = Recorder(Sink(), log_messages=True).cache_hit(
        RequestContext("r2", model="titan-embed-text"), "embedding", request, answer
    )
    assert record.cache_hit and record.kind == "embedding" and record.cost == 0.0
    assert record.usage.prompt_tokens == 2


def test_an_ordinary_record_is_not_a_cache_hit() -> None:
    request = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    record = Recorder(Sink(), log_messages=True).chat_success(
        RequestContext("r3"), request, {}, ANSWER, stream=False
    )
    assert record.cache_hit is False
