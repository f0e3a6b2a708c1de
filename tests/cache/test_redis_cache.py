"""RedisCache against a real redis-server: namespaced keys, expiry, and a Redis that fails or vanishes."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from bedrock_proxy.cache.redis_cache import RedisCache
from tests.cache.redis_server import RedisServer
from tests.support.processes import free_port


async def test_a_value_stored_is_read_back_under_its_namespace(redis: RedisServer) -> None:
    cache = RedisCache(url=redis.url, namespace="team-a", timeout=2)
    try:
        await cache.set("chat:abc", b'{"x":1}', ttl=60)
        assert await cache.get("chat:abc") == b'{"x":1}'
        assert redis.command("EXISTS", "team-a:chat:abc").strip() == b":1"
    finally:
        await cache.aclose()


async def test_two_clients_with_the_same_namespace_share_entries_and_others_do_not(
    redis: RedisServer,
) -> None:
    writer = RedisCache(host="127.0.0.1", port=redis.port, namespace="shared", timeout=2)
    reader = RedisCache(url=redis.url, namespace="shared", timeout=2)
    stranger = RedisCache(url=redis.url, namespace="other", timeout=2)
    try:
        await writer.set("k", b"v", ttl=60)
        assert await reader.get("k") == b"v"
        assert await stranger.get("k") is None
    finally:
        for cache in (writer, reader, stranger):
            await cache.aclose()


async def test_an_entry_expires_at_its_ttl(redis: RedisServer) -> None:
    cache = RedisCache(url=redis.url, timeout=2)
    try:
        await cache.set("k", b"v", ttl=0.3)
        ttl_ms = int(redis.command("PTTL", "bedrock-proxy:k").strip()[1:])
        assert 0 < ttl_ms <= 300
        deadline = time.monotonic() + 5
        while await cache.get("k") is not None:
            assert time.monotonic() < deadline, "the entry outlived its ttl"
            await asyncio.sleep(0.05)
    finally:
        await cache.aclose()


async def test_a_redis_killed_mid_run_turns_reads_and_writes_into_counted_misses(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RedisCache(url=redis.url, timeout=2, retry_interval=60)
    try:
        await cache.set("k", b"v", ttl=60)
        redis.kill()
        with caplog.at_level(logging.WARNING, logger="bedrock_proxy.cache"):
            assert await cache.get("k") is None
            await cache.set("k2", b"v", ttl=60)  # bypassed while Redis is down: no error, no wait
            assert await cache.get("k2") is None
        stats = cache.stats()
        assert stats["errors"] == 1
        assert stats["bypassed"] == 2
        warnings = [r for r in caplog.records if "Redis response cache" in r.getMessage()]
        assert len(warnings) == 1  # once, not per request
    finally:
        await cache.aclose()


async def test_a_redis_that_never_answers_costs_a_request_at_most_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections, never replies
        silent.bind(("127.0.0.1", free_port()))
        silent.listen(16)
        port = silent.getsockname()[1]
        cache = RedisCache(host="127.0.0.1", port=port, timeout=0.2, retry_interval=60)
        try:
            started = time.monotonic()
            assert await cache.get("k") is None
            first = time.monotonic() - started
            started = time.monotonic()
            assert await cache.get("k") is None  # bypassed: no second wait
            second = time.monotonic() - started
        finally:
            await cache.aclose()
    assert first < 5  # bounded by the timeout (generous: the machine is shared)
    assert second < first
    assert cache.stats()["errors"] == 1


async def test_an_unreachable_redis_at_start_up_is_a_warning_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisCache(host="127.0.0.1", port=free_port(), timeout=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger="bedrock_proxy.cache"):
            await cache.start()
        assert any("unreachable" in r.getMessage() for r in caplog.records)
        assert await cache.get("k") is None
    finally:
        await cache.aclose()


async def test_the_same_client_recovers_when_redis_comes_back(redis: RedisServer) -> None:
    cache = RedisCache(url=redis.url, timeout=2, retry_interval=0.05)
    try:
        await cache.set("k", b"v", ttl=60)
        redis.kill()
        assert await cache.get("k") is None
        redis.restart()
        await asyncio.sleep(0.1)  # past the pause after an error
        await cache.set("k", b"back", ttl=60)
        assert await cache.get("k") == b"back"
    finally:
        await cache.aclose()
