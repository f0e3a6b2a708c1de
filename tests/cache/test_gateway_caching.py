"""Response caching end to end: real gateway processes, the Bedrock emulator, and a real redis-server."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cache.http import post, sse_chunks, upstream_requests
from tests.cache.redis_server import RedisServer, redis_server
from tests.conftest import seed_config
from tests.support.processes import gateway_process

CHAT = "/v1/chat/completions"
_unique = itertools.count()


def question(**extra: object) -> dict:
    """A chat request no other test sends, so each test starts from an empty cache entry."""
    return {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": f"Question {next(_unique)} {time.time_ns()}: le ciel ?"}],
        **extra,
    }


def redis_settings(port: int) -> str:
    """The seed's own shape (router_settings.redis_* + cache_responses + cache_kwargs.ttl)."""
    return (
        "router_settings:\n"
        "  redis_host: 127.0.0.1\n"
        f"  redis_port: {port}\n"
        "  cache_responses: true\n"
        "  cache_kwargs:\n"
        "    ttl: 3600\n"
    )


LOCAL_SETTINGS = "litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n    ttl: 600\n"
TEST_TIMEOUT_ENV = {"BEDROCK_PROXY_CACHE_TIMEOUT_SECONDS": "3"}  # a shared, busy machine: no false misses


@pytest.fixture(scope="module")
def local_gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(
        seed_config(LOCAL_SETTINGS), tmp_path_factory.mktemp("local"), emulator_url=emulator_url
    ) as url:
        yield url


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis_gateways(
    emulator_url: str, shared_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    config = seed_config(redis_settings(shared_redis.port))
    path = tmp_path_factory.mktemp("redis")
    with (
        gateway_process(config, path, emulator_url=emulator_url, env=TEST_TIMEOUT_ENV) as first,
        gateway_process(config, path, emulator_url=emulator_url, env=TEST_TIMEOUT_ENV) as second,
    ):
        yield first, second


def test_the_same_request_twice_is_answered_the_second_time_from_the_cache(
    local_gateway: str, emulator_url: str
) -> None:
    body = question(temperature=0.2)
    status, headers, first = post(local_gateway + CHAT, body)
    assert status == 200, first
    assert headers["x-bedrock-proxy-cache"] == "miss"
    before = upstream_requests(emulator_url)
    status, headers, second = post(local_gateway + CHAT, {**body, "user": "another-user"})
    assert status == 200, second
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before  # Bedrock was not called
    assert second["choices"] == first["choices"]
    assert second["usage"] == first["usage"]  # usage as it was cached
    assert second["created"] == first["created"]
    assert second["id"] != first["id"]  # each request keeps its own id
    assert headers["x-litellm-response-cost"] == "0"


def test_a_different_temperature_is_a_miss(local_gateway: str, emulator_url: str) -> None:
    body = question(temperature=0.2)
    post(local_gateway + CHAT, body)
    before = upstream_requests(emulator_url)
    _, headers, _ = post(local_gateway + CHAT, {**body, "temperature": 0.7})
    assert headers["x-bedrock-proxy-cache"] == "miss"
    assert upstream_requests(emulator_url) == before + 1


@pytest.mark.parametrize(
    ("extra", "header"),
    [({"cache": {"no-cache": True}}, None), ({}, "no-cache")],
    ids=["body no-cache", "Cache-Control header"],
)
def test_no_cache_goes_upstream_even_when_an_answer_is_cached(
    local_gateway: str, emulator_url: str, extra: dict, header: str | None
) -> None:
    body = question()
    post(local_gateway + CHAT, body)
    before = upstream_requests(emulator_url)
    status, headers, _ = post(
        local_gateway + CHAT, {**body, **extra}, {"Cache-Control": header} if header else None
    )
    assert status == 200
    assert headers["x-bedrock-proxy-cache"] == "skip"
    assert upstream_requests(emulator_url) == before + 1


def test_no_store_leaves_nothing_behind(local_gateway: str) -> None:
    body = question()
    post(local_gateway + CHAT, {**body, "cache": {"no-store": True}})
    _, headers, _ = post(local_gateway + CHAT, body)
    assert headers["x-bedrock-proxy-cache"] == "miss"


def test_an_entry_stored_with_a_short_ttl_expires(local_gateway: str) -> None:
    body = question(cache={"ttl": 0.5})
    post(local_gateway + CHAT, body)
    time.sleep(0.7)
    _, headers, _ = post(local_gateway + CHAT, body)
    assert headers["x-bedrock-proxy-cache"] == "miss"


def test_a_malformed_cache_object_is_a_400(local_gateway: str) -> None:
    status, _, body = post(local_gateway + CHAT, question(cache="please"))
    assert status == 400
    assert body["error"]["param"] == "cache"


def test_a_streamed_request_replays_a_cached_answer_as_chunks(local_gateway: str, emulator_url: str) -> None:
    body = question()
    _, _, answer = post(local_gateway + CHAT, body)
    before = upstream_requests(emulator_url)
    status, headers, text = post(
        local_gateway + CHAT, {**body, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before
    events = sse_chunks(text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == answer["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"] == answer["usage"]


def test_a_streamed_answer_is_stored_and_served_to_a_non_streamed_request(
    local_gateway: str, emulator_url: str
) -> None:
    body = question()
    status, headers, text = post(local_gateway + CHAT, {**body, "stream": True})
    assert status == 200 and headers["x-bedrock-proxy-cache"] == "miss"
    streamed = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in sse_chunks(text)[:-1] if c["choices"]
    )
    # a stream is stored once it ended, just after [DONE]: one round trip through the same process first
    post(local_gateway + CHAT, question())
    before = upstream_requests(emulator_url)
    _, headers, answer = post(local_gateway + CHAT, body)
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before
    assert answer["choices"][0]["message"]["content"] == streamed


def test_embeddings_are_cached_too(local_gateway: str, emulator_url: str) -> None:
    body = {"model": "titan-embed-text-v2", "input": [f"texte {time.time_ns()}", "deuxième"]}
    _, headers, first = post(local_gateway + "/v1/embeddings", body)
    assert headers["x-bedrock-proxy-cache"] == "miss"
    before = upstream_requests(emulator_url)
    status, headers, second = post(local_gateway + "/v1/embeddings", body)
    assert status == 200
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before
    assert second == first


def test_a_gateway_without_cache_settings_sends_no_cache_header(gateway_url: str) -> None:
    status, headers, _ = post(gateway_url + CHAT, question())
    assert status == 200
    assert "x-bedrock-proxy-cache" not in headers


def test_two_gateway_processes_sharing_one_redis_see_each_others_answers(
    redis_gateways: tuple[str, str], emulator_url: str, shared_redis: RedisServer
) -> None:
    first, second = redis_gateways
    body = question(temperature=0.3)
    stored = shared_redis.entries()
    _, headers, written = post(first + CHAT, body)
    assert headers["x-bedrock-proxy-cache"] == "miss"
    shared_redis.wait_for_entries(stored + 1)
    before = upstream_requests(emulator_url)
    _, headers, read = post(second + CHAT, body)
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before
    assert read["choices"] == written["choices"]
    keys = shared_redis.command("KEYS", "bedrock-proxy:chat:*")
    assert keys.startswith(b"*") and not keys.startswith(b"*0")
    ttl = int(shared_redis.command("TTL", keys.split(b"\r\n")[2].decode()).strip()[1:])
    assert 3500 < ttl <= 3600  # cache_kwargs.ttl from the seed's shape


def test_redis_streams_and_embeddings_hit_across_processes(
    redis_gateways: tuple[str, str], emulator_url: str, shared_redis: RedisServer
) -> None:
    first, second = redis_gateways
    body = question()
    stored = shared_redis.entries()
    post(first + CHAT, {**body, "stream": True})
    shared_redis.wait_for_entries(stored + 1)
    _, headers, text = post(second + CHAT, {**body, "stream": True})
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert sse_chunks(text)[-1] == "[DONE]"
    embedding = {"model": "titan-embed-text", "input": f"partagé {time.time_ns()}"}
    post(second + "/v1/embeddings", embedding)
    shared_redis.wait_for_entries(stored + 2)
    before = upstream_requests(emulator_url)
    _, headers, _ = post(first + "/v1/embeddings", embedding)
    assert headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before


def test_requests_still_succeed_when_redis_dies_mid_run(emulator_url: str, tmp_path: Path) -> None:
    with (
        redis_server() as server,
        gateway_process(
            seed_config(redis_settings(server.port)),
            tmp_path,
            emulator_url=emulator_url,
            env=TEST_TIMEOUT_ENV,
        ) as gateway,
    ):
        body = question()
        post(gateway + CHAT, body)
        server.wait_for_entries(1)
        _, headers, _ = post(gateway + CHAT, body)
        assert headers["x-bedrock-proxy-cache"] == "hit"
        server.kill()
        for _ in range(3):
            before = upstream_requests(emulator_url)
            status, headers, answer = post(gateway + CHAT, body)
            assert status == 200, answer
            assert headers["x-bedrock-proxy-cache"] == "miss"
            assert upstream_requests(emulator_url) == before + 1
        status, _, text = post(gateway + CHAT, {**body, "stream": True})
        assert status == 200 and sse_chunks(text)[-1] == "[DONE]"


def test_a_gateway_starts_and_serves_when_its_redis_is_unreachable(emulator_url: str, tmp_path: Path) -> None:
    from tests.support.processes import free_port

    with gateway_process(
        seed_config(redis_settings(free_port())), tmp_path, emulator_url=emulator_url
    ) as gateway:
        status, headers, _ = post(gateway + CHAT, question())
        assert status == 200
        assert headers["x-bedrock-proxy-cache"] == "miss"


def test_cache_hits_are_counted_in_metrics_under_both_names(local_gateway: str) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    def hits() -> dict[str, float]:
        with urllib.request.urlopen(local_gateway + "/metrics") as response:
            families = text_string_to_metric_families(response.read().decode())
            return {
                family.name: sum(s.value for s in family.samples if s.name.endswith("_total"))
                for family in families
                if family.name in ("bedrock_proxy_cache_hits", "litellm_cache_hits_metric")
            }

    body = question(temperature=0.3, max_tokens=7)
    before = hits()
    for expected in ("miss", "hit", "hit"):
        status, headers, _ = post(local_gateway + CHAT, body)
        assert status == 200 and headers["x-bedrock-proxy-cache"] == expected
    after = hits()
    for name in ("bedrock_proxy_cache_hits", "litellm_cache_hits_metric"):
        assert after[name] - before.get(name, 0.0) == 2
