"""Routing strategies: which of a group's available deployments takes the next attempt.

Each gets the candidates the router already filtered (not cooling down, under their limits) and returns one.
Ties are broken at random so equal deployments share the load. What a strategy compares (requests, tokens
and latencies over the last minute, requests in flight) is read from the router's store: with a shared one,
every process routes on the traffic of all of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bedrock_proxy.config.schema import ROUTING_STRATEGIES
from bedrock_proxy.router.state import Readings
from bedrock_proxy.router.tracked import Tracked


class Strategy:
    """simple-shuffle: random, weighted by weight (else rpm, else tpm)."""

    name = "simple-shuffle"
    observes_latency = False
    counts_usage = False
    reads_in_flight = False
    reads_counters = False  # order() compares Readings: the router reads them from the store first

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args

    def order(self, candidates: list[Tracked], readings: Readings | None) -> list[Tracked]:
        """The candidates, the one to try first first: the router takes the first that is not cooling down
        and under its limits (so the choice among those is as if the others were not there)."""
        if len(candidates) < 2:
            return list(candidates)
        remaining = list(candidates)
        ordered: list[Tracked] = []
        while len(remaining) > 1:  # weighted sampling without replacement
            chosen = random.choices(range(len(remaining)), weights=[t.weight for t in remaining])[0]
            ordered.append(remaining.pop(chosen))
        return ordered + remaining

    def window_keys(self, tracked: Tracked) -> tuple[str, ...]:
        """The minute windows `order` reads for a deployment."""
        return tracked.rpm_key, tracked.tpm_key

    def samples(self, tracked: Tracked, seconds: float) -> tuple[tuple[str, float], ...]:
        """What one finished attempt's latency adds to the windows (only called when observes_latency)."""
        return ()


def _lowest_first(
    candidates: list[Tracked], score: Callable[[Tracked], float], slack: float = 0.0
) -> list[Tracked]:
    """By score, lowest first; those within `slack` x the best (and equal scores) in random order."""
    if len(candidates) < 2:
        return list(candidates)
    scored = [(score(t), random.random(), t) for t in candidates]
    best = min(entry[0] for entry in scored)
    bound = best + abs(best) * slack
    scored.sort(key=lambda entry: (entry[0] if entry[0] > bound else bound, entry[1]))
    return [entry[2] for entry in scored]


class LeastBusy(Strategy):
    """least-busy: the fewest requests in flight (a stream counts until it ends), across every process
    that shares the store."""

    name = "least-busy"
    reads_in_flight = True
    reads_counters = True

    def order(self, candidates: list[Tracked], readings: Readings | None) -> list[Tracked]:
        if readings is None:
            return super().order(candidates, None)
        return _lowest_first(candidates, lambda t: readings.in_flight(t.in_flight_key))


class UsageBased(Strategy):
    """usage-based-routing: the most rpm/tpm headroom this minute.

    Headroom is the used fraction of the tighter of the deployment's rpm and tpm limits; a deployment with no
    limit is compared on tokens used this minute against the others' limits, i.e. it looks emptiest when
    it has served least.
    """

    name = "usage-based-routing"
    counts_usage = True
    reads_counters = True

    def order(self, candidates: list[Tracked], readings: Readings | None) -> list[Tracked]:
        if readings is None:
            return super().order(candidates, None)
        total = readings.total

        def used(t: Tracked) -> float:
            deployment = t.deployment
            fraction = -1.0
            if deployment.tpm:
                fraction = total(t.tpm_key) / deployment.tpm
            if deployment.rpm:
                fraction = max(fraction, total(t.rpm_key) / deployment.rpm)
            if fraction < 0:  # unlimited: tokens this minute, scaled so it stays comparable and small
                fraction = total(t.tpm_key) * 1e-9
            return fraction

        return _lowest_first(candidates, used)


class LatencyBased(Strategy):
    """latency-based-routing: the lowest mean latency over the last minute (time to first token for
    streams), from every process sharing the store: the sum of the attempts' seconds and their count are
    two minute windows.

    A deployment without a measure in the last minute counts as fastest, so every one is tried (and tried
    again after a quiet minute). `routing_strategy_args.lowest_latency_buffer` (LiteLLM's name) picks at
    random among those within that fraction of the best.
    """

    name = "latency-based-routing"
    observes_latency = True
    reads_counters = True

    def window_keys(self, tracked: Tracked) -> tuple[str, ...]:
        return tracked.latency_key, tracked.samples_key

    def order(self, candidates: list[Tracked], readings: Readings | None) -> list[Tracked]:
        slack = float(self.args.get("lowest_latency_buffer") or 0.0)
        if readings is None:
            return _lowest_first(candidates, lambda t: 0.0, slack)
        total = readings.total

        def mean(t: Tracked) -> float:
            count = total(t.samples_key)
            return total(t.latency_key) / count if count > 0 else 0.0

        return _lowest_first(candidates, mean, slack)

    def samples(self, tracked: Tracked, seconds: float) -> tuple[tuple[str, float], ...]:
        return (tracked.latency_key, seconds), (tracked.samples_key, 1.0)


class CostBased(Strategy):
    """cost-based-routing: the cheapest deployment by the pricing table (or its own cost overrides)."""

    name = "cost-based-routing"

    def order(self, candidates: list[Tracked], readings: Readings | None) -> list[Tracked]:
        return _lowest_first(candidates, lambda t: t.price)


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Strategy, LeastBusy, UsageBased, LatencyBased, CostBased)
}
assert set(STRATEGIES) == set(ROUTING_STRATEGIES)


def strategy_for(name: str, args: dict[str, Any] | None = None) -> Strategy:
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown routing_strategy {name!r}; valid strategies: {', '.join(ROUTING_STRATEGIES)}"
        )
    return cls(dict(args or {}))
