"""LocalCache: entries expire at their ttl, and the least recently used go first when a bound is hit."""

from __future__ import annotations

from bedrock_proxy.cache import LocalCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_entry_is_served_until_its_ttl_and_not_after() -> None:
    clock = Clock()
    cache = LocalCache(clock=clock)
    await cache.set("k", b"answer", ttl=10)
    clock.now += 9.9
    assert await cache.get("k") == b"answer"
    clock.now += 0.2
    assert await cache.get("k") is None
    assert cache.stats()["entries"] == 0


async def test_each_entry_keeps_its_own_ttl() -> None:
    clock = Clock()
    cache = LocalCache(clock=clock)
    await cache.set("short", b"1", ttl=1)
    await cache.set("long", b"2", ttl=100)
    clock.now += 5
    assert await cache.get("short") is None
    assert await cache.get("long") == b"2"


async def test_the_least_recently_used_entry_is_evicted_past_the_entry_bound() -> None:
    cache = LocalCache(max_entries=2)
    await cache.set("a", b"1", ttl=60)
    await cache.set("b", b"2", ttl=60)
    assert await cache.get("a") == b"1"  # a is now the most recently used
    await cache.set("c", b"3", ttl=60)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    assert await cache.get("c") == b"3"
    assert cache.stats()["evictions"] == 1


async def test_the_byte_bound_holds_and_evicts_oldest_first() -> None:
    cache = LocalCache(max_bytes=3000)
    for name in "abcd":
        await cache.set(name, b"x" * 999, ttl=60)  # key + value = 1000 bytes each
    stats = cache.stats()
    assert stats["bytes"] <= 3000
    assert stats["entries"] == 3
    assert await cache.get("a") is None
    assert await cache.get("d") is not None


async def test_a_value_larger_than_the_whole_cache_is_not_stored() -> None:
    cache = LocalCache(max_bytes=100)
    await cache.set("small", b"s", ttl=60)
    await cache.set("huge", b"x" * 200, ttl=60)
    assert await cache.get("huge") is None
    assert await cache.get("small") == b"s"


async def test_storing_a_key_again_replaces_it_without_growing_the_count() -> None:
    cache = LocalCache()
    await cache.set("k", b"old", ttl=60)
    await cache.set("k", b"newer", ttl=60)
    assert await cache.get("k") == b"newer"
    assert cache.stats()["entries"] == 1
    assert cache.stats()["bytes"] == len("k") + len("newer")


async def test_a_zero_ttl_stores_nothing() -> None:
    cache = LocalCache()
    await cache.set("k", b"v", ttl=0)
    assert await cache.get("k") is None
