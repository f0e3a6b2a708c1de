"""Routing strategies: which of a group's available deployments takes the next attempt.

Each gets the candidates the router already filtered (not cooling down, under their limits) and returns one.
Ties are broken at random so equal deployments share the load.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bedrock_proxy.config.schema import ROUTING_STRATEGIES
from bedrock_proxy.router.state import CounterStore
from bedrock_proxy.router.tracked import Tracked

LATENCY_SMOOTHING = 0.3  # weight of the newest sample in the moving average


class Strategy:
    """simple-shuffle: random, weighted by weight (else rpm, else tpm)."""

    name = "simple-shuffle"
    observes_latency = False
    counts_usage = False

    def __init__(self, store: CounterStore, args: dict[str, Any]) -> None:
        self.store = store
        self.args = args

    def pick(self, candidates: list[Tracked], now: float) -> Tracked:
        if len(candidates) == 1:
            return candidates[0]
        return random.choices(candidates, weights=[t.weight for t in candidates])[0]

    def observe(self, tracked: Tracked, seconds: float) -> None:
        """One finished attempt's latency (only called when observes_latency)."""


def _lowest(candidates: list[Tracked], score: Callable[[Tracked], float], slack: float = 0.0) -> Tracked:
    """A random one among the lowest scores (within `slack` x the best when slack > 0)."""
    scores = [score(t) for t in candidates]
    best = min(scores)
    bound = best + abs(best) * slack
    ties = [t for t, s in zip(candidates, scores, strict=True) if s <= bound]
    return ties[0] if len(ties) == 1 else random.choice(ties)


class LeastBusy(Strategy):
    """least-busy: the fewest requests in flight (a stream counts until it ends)."""

    name = "least-busy"

    def pick(self, candidates: list[Tracked], now: float) -> Tracked:
        in_flight = self.store.in_flight
        return _lowest(candidates, lambda t: in_flight(t.in_flight_key))


class UsageBased(Strategy):
    """usage-based-routing: the most rpm/tpm headroom this minute.

    Headroom is the used fraction of the tighter of the deployment's rpm and tpm limits; a deployment with no
    limit is compared on tokens used this minute against the others' limits, i.e. it looks emptiest when
    it has served least.
    """

    name = "usage-based-routing"
    counts_usage = True

    def pick(self, candidates: list[Tracked], now: float) -> Tracked:
        total = self.store.total

        def used(t: Tracked) -> float:
            deployment = t.deployment
            fraction = -1.0
            if deployment.tpm:
                fraction = total(t.tpm_key, now) / deployment.tpm
            if deployment.rpm:
                fraction = max(fraction, total(t.rpm_key, now) / deployment.rpm)
            if fraction < 0:  # unlimited: tokens this minute, scaled so it stays comparable and small
                fraction = total(t.tpm_key, now) * 1e-9
            return fraction

        return _lowest(candidates, used)


class LatencyBased(Strategy):
    """latency-based-routing: the lowest recent latency (time to first token for streams).

    A deployment not measured yet counts as fastest, so every one is tried. `routing_strategy_args.
    lowest_latency_buffer` (LiteLLM's name) picks at random among those within that fraction of the best.
    """

    name = "latency-based-routing"
    observes_latency = True

    def pick(self, candidates: list[Tracked], now: float) -> Tracked:
        slack = float(self.args.get("lowest_latency_buffer") or 0.0)
        return _lowest(candidates, lambda t: t.latency or 0.0, slack)

    def observe(self, tracked: Tracked, seconds: float) -> None:
        previous = tracked.latency
        tracked.latency = seconds if previous is None else previous + LATENCY_SMOOTHING * (seconds - previous)


class CostBased(Strategy):
    """cost-based-routing: the cheapest deployment by the pricing table (or its own cost overrides)."""

    name = "cost-based-routing"

    def pick(self, candidates: list[Tracked], now: float) -> Tracked:
        return _lowest(candidates, lambda t: t.price)


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Strategy, LeastBusy, UsageBased, LatencyBased, CostBased)
}
assert set(STRATEGIES) == set(ROUTING_STRATEGIES)


def strategy_for(name: str, store: CounterStore, args: dict[str, Any] | None = None) -> Strategy:
    cls = STRATEGIES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown routing_strategy {name!r}; valid strategies: {', '.join(ROUTING_STRATEGIES)}"
        )
    return cls(store, dict(args or {}))
