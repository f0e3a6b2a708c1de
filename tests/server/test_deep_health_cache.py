"""GET /health/models' result cache on its own: one round of probes for concurrent callers, reused while
fresh, its age always the round's, a failed round not kept."""

from __future__ import annotations

import asyncio

import pytest

from bedrock_proxy.server.deep_health import DeepHealthCache


async def test_concurrent_callers_share_one_round_and_later_ones_reuse_it() -> None:
    rounds = 0

    async def probe_all() -> tuple[int, dict[str, int]]:
        nonlocal rounds
        rounds += 1
        await asyncio.sleep(0.05)
        return 200, {"round": rounds}

    cache: DeepHealthCache[tuple[int, dict[str, int]]] = DeepHealthCache(reuse_seconds=60)
    answers = await asyncio.gather(*(cache.get(probe_all) for _ in range(10)))
    answers += [await cache.get(probe_all) for _ in range(5)]
    assert rounds == 1
    assert all(result == (200, {"round": 1}) for result, _ in answers)
    assert all(0 <= age < 5 for _, age in answers), "every age is the round's, never the clock's"


async def test_a_stale_result_is_probed_again_and_a_failed_round_is_not_kept() -> None:
    outcomes = iter([(200, {}), RuntimeError("Bedrock unreachable"), (503, {})])

    async def probe_all() -> tuple[int, dict[str, int]]:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cache: DeepHealthCache[tuple[int, dict[str, int]]] = DeepHealthCache(reuse_seconds=0.01)
    assert (await cache.get(probe_all))[0] == (200, {})
    await asyncio.sleep(0.02)
    with pytest.raises(RuntimeError):
        await cache.get(probe_all)
    assert (await cache.get(probe_all))[0] == (503, {})
