"""The emulator's prompt cache TTLs: a cachePoint's ttl is checked as Bedrock checks it (5m | 1h, 1h only on
models that take it, never increasing from tools to system to messages), the writes are detailed per TTL
(cacheDetails), and the gateway reads the one-hour writes apart, for their own price."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bedrock_proxy.bedrock.translate import usage_from_converse
from bedrock_proxy.emulator.conversation import Answer, Turn
from bedrock_proxy.emulator.converse_wire import usage
from bedrock_proxy.emulator.prompt_cache import PromptCache, cache_prefixes
from tests.emulator.conftest import HAIKU

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
LONG = "Every clause of the agreement is listed here with its number and its text. " * 120


def _body(system_ttl: str | None, message_ttl: str | None = None) -> dict:
    def point(ttl: str | None) -> dict:
        return {"cachePoint": {"type": "default", **({"ttl": ttl} if ttl else {})}}

    content = [{"text": "Question?" + LONG}] + ([point(message_ttl)] if message_ttl is not None else [])
    return {
        "system": [{"text": LONG}, point(system_ttl)],
        "messages": [{"role": "user", "content": content}],
    }


def test_writes_are_detailed_per_ttl_and_a_one_hour_prefix_is_read_later() -> None:
    cache = PromptCache()
    turn = Turn("q", 5000, None, [], cache_prefixes=cache_prefixes(_body("1h", "5m"), SONNET_45))
    first = Answer([{"text": "a"}], "end_turn", turn.input_tokens, 1)
    cache.account(first, turn)
    system_tokens = turn.cache_prefixes[0][1]
    assert first.cache_write == turn.cache_prefixes[-1][1] and first.cache_read == 0
    assert first.cache_write_1h == system_tokens
    assert usage(first)["cacheDetails"] == [
        {"ttl": "5m", "inputTokens": first.cache_write - system_tokens},
        {"ttl": "1h", "inputTokens": system_tokens},
    ]
    second = Answer([{"text": "a"}], "end_turn", turn.input_tokens, 1)
    cache.account(second, turn)
    assert (second.cache_read, second.cache_write, second.cache_write_1h) == (first.cache_write, 0, 0)
    assert "cacheDetails" not in usage(second)
    read = usage_from_converse(usage(first))
    assert read.cache_write_tokens == first.cache_write and read.cache_write_1h_tokens == system_tokens


@pytest.mark.parametrize(
    ("model_id", "body", "words"),
    [
        (HAIKU, _body("1h"), "1h cache TTL"),
        (SONNET_45, _body("5m", "1h"), "must not increase"),
        (SONNET_45, _body("2h"), "[5m, 1h]"),
    ],
)
def test_a_ttl_bedrock_refuses_is_a_validation_error(model_id: str, body: dict, words: str) -> None:
    with pytest.raises(Exception) as caught:
        cache_prefixes(body, model_id)
    assert words in str(caught.value)


def test_boto3_sees_the_refusal_of_a_one_hour_ttl_on_claude_3_haiku(runtime) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.converse(modelId=HAIKU, **_body("1h"))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "1h cache TTL" in caught.value.response["Error"]["Message"]
    answer = runtime.converse(modelId=HAIKU, **_body(None))
    assert answer["usage"]["cacheWriteInputTokens"] > 1000
    assert answer["usage"]["cacheDetails"] == [
        {"ttl": "5m", "inputTokens": answer["usage"]["cacheWriteInputTokens"]}
    ]


@pytest.mark.parametrize(
    ("model_id", "minimum"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", 2048),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", 1024),
        (SONNET_45, 1024),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", 4096),
        ("eu.anthropic.claude-opus-4-5-20251101-v1:0", 4096),
        ("eu.anthropic.claude-opus-4-6-v1", 4096),
        ("eu.anthropic.claude-opus-4-7", 2048),
        ("eu.anthropic.claude-sonnet-4-6", 1024),
    ],
)
def test_a_prefix_shorter_than_the_models_minimum_is_not_cached(model_id: str, minimum: int) -> None:
    for repeat in (20, 40, 80):  # system prompts of about 1,100, 2,250 and 4,500 tokens
        text = "Every clause of the agreement is listed here with its number and its text. " * repeat * 3
        body = {"system": [{"text": text}, {"cachePoint": {"type": "default"}}], "messages": []}
        ((_, tokens, _),) = cache_prefixes(body, "")  # the size, under the plain 1,024 floor
        assert tokens > 1024
        assert bool(cache_prefixes(body, model_id)) is (tokens >= minimum), (model_id, tokens)
