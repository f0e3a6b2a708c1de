"""ResponseCaching: what is stored, what a hit returns, and how stream answers are replayed."""

from __future__ import annotations

from bedrock_proxy.bedrock.streaming import StreamTranslator
from bedrock_proxy.cache import LocalCache, ResponseCaching, completion_from_stream, stream_chunks
from bedrock_proxy.openai.completions import ChunkRenderer

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def completion(finish_reason: str = "stop", content: str = "Bonjour !") -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "m",
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_stored_answer_is_a_hit_for_the_same_request() -> None:
    caching = ResponseCaching(LocalCache())
    first = await caching.lookup("chat", "m", BODY, None)
    assert first.status == "miss"
    assert await caching.store(first, completion())
    second = await caching.lookup("chat", "m", {**BODY, "user": "someone else"}, None)
    assert second.status == "hit"
    assert second.answer == completion()
    assert second.headers() == [(b"x-bedrock-proxy-cache", b"hit")]


async def test_a_content_filtered_answer_is_never_stored() -> None:
    caching = ResponseCaching(LocalCache())
    lookup = await caching.lookup("chat", "m", BODY, None)
    assert not await caching.store(lookup, completion(finish_reason="content_filter"))
    assert (await caching.lookup("chat", "m", BODY, None)).status == "miss"


async def test_no_cache_skips_the_read_but_still_stores() -> None:
    caching = ResponseCaching(LocalCache())
    await caching.store(await caching.lookup("chat", "m", BODY, None), completion(content="old"))
    skipped = await caching.lookup("chat", "m", {**BODY, "cache": {"no-cache": True}}, None)
    assert skipped.status == "skip" and skipped.answer is None
    await caching.store(skipped, completion(content="new"))
    assert (await caching.lookup("chat", "m", BODY, None)).answer == completion(content="new")


async def test_no_store_reads_but_never_writes() -> None:
    caching = ResponseCaching(LocalCache())
    lookup = await caching.lookup("chat", "m", BODY, "no-store")
    assert lookup.status == "miss"
    assert not await caching.store(lookup, completion())
    assert (await caching.lookup("chat", "m", BODY, None)).status == "miss"


async def test_s_maxage_refuses_an_answer_stored_too_long_ago() -> None:
    clock = Clock()
    caching = ResponseCaching(LocalCache(), clock=clock)
    await caching.store(await caching.lookup("chat", "m", BODY, None), completion())
    clock.now += 30
    assert (await caching.lookup("chat", "m", {**BODY, "cache": {"s-maxage": 10}}, None)).status == "miss"
    assert (await caching.lookup("chat", "m", {**BODY, "cache": {"s-maxage": 60}}, None)).status == "hit"


async def test_the_request_ttl_wins_over_the_configured_one_and_zero_means_do_not_store() -> None:
    stored: list[float] = []

    class Recording(LocalCache):
        async def set(self, key: str, value: bytes, ttl: float) -> None:
            stored.append(ttl)
            await super().set(key, value, ttl)

    caching = ResponseCaching(Recording(), ttl=3600)
    await caching.store(await caching.lookup("chat", "m", BODY, None), completion())
    await caching.store(
        await caching.lookup("chat", "m", {**BODY, "cache": {"ttl": 5, "no-cache": True}}, None), completion()
    )
    assert not await caching.store(
        await caching.lookup("chat", "m", {**BODY, "cache": {"ttl": 0}}, None), completion()
    )
    assert stored == [3600.0, 5.0]


def test_a_replayed_answer_streams_role_content_finish_and_usage() -> None:
    chunks = stream_chunks(completion(), include_usage=True)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "Bonjour !"}, {}]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)


def test_a_replayed_tool_call_arrives_whole_in_one_delta() -> None:
    answer = completion(finish_reason="tool_calls", content="")
    call = {"id": "t1", "type": "function", "function": {"name": "meteo", "arguments": '{"ville":"Paris"}'}}
    answer["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    chunks = stream_chunks(answer, include_usage=False)
    tool_deltas = [
        c["choices"][0]["delta"]["tool_calls"] for c in chunks if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert tool_deltas == [[{"index": 0, **call}]]
    assert "usage" not in chunks[0]


def test_a_replayed_reasoned_answer_streams_its_reasoning_then_its_signed_blocks() -> None:
    answer = completion()
    block = {"type": "thinking", "thinking": "Hmm.", "signature": "c2ln"}
    answer["choices"][0]["message"] |= {"reasoning_content": "Hmm.", "thinking_blocks": [block]}
    deltas = [c["choices"][0]["delta"] for c in stream_chunks(answer, include_usage=False)]
    assert deltas[1:4] == [
        {"reasoning_content": "Hmm."},
        {"thinking_blocks": [block]},
        {"content": "Bonjour !"},
    ]


def test_a_finished_stream_assembles_into_the_completion_it_streamed() -> None:
    translator = StreamTranslator(ChunkRenderer("chatcmpl-9", "m", 1700000000, False), None)
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Bon"}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "jour"}}),
        ("messageStop", {"stopReason": "end_turn"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
    ]
    for event in events:
        translator.feed(*event)
    answer = completion_from_stream("chatcmpl-9", "m", 1700000000, [translator])
    assert answer is not None
    assert answer["choices"][0]["message"]["content"] == "Bonjour"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["total_tokens"] == 5


def test_a_stream_that_did_not_finish_assembles_into_nothing() -> None:
    translator = StreamTranslator(ChunkRenderer("chatcmpl-9", "m", 1700000000, False), None)
    translator.feed("messageStart", {"role": "assistant"})
    translator.feed("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Bon"}})
    assert completion_from_stream("chatcmpl-9", "m", 1700000000, [translator]) is None
