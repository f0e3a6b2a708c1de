"""How long and how hard each section runs, per mode: smoke (CI, < 60 s), quick (minutes), full."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    mode: str
    rounds: int  # interleaved rounds for added latency
    per_round: int  # direct/through pairs per round
    stream_rounds: int
    streams_per_round: int
    throughput_seconds: float
    connections: int
    open_loop_rates: tuple[int, ...]
    open_loop_seconds: float
    embedding_calls: int
    memory_requests: int
    observability_repeats: int
    peer_memory_seconds: float  # the peer is ~20x slower: its "after N requests" is bounded by time
    profile_seconds: float


PLANS = {
    "smoke": Plan(
        mode="smoke",
        rounds=2,
        per_round=15,
        stream_rounds=2,
        streams_per_round=2,
        throughput_seconds=1.0,
        connections=16,
        open_loop_rates=(50,),
        open_loop_seconds=1.0,
        embedding_calls=2,
        memory_requests=1_000,
        observability_repeats=1,
        peer_memory_seconds=2.0,
        profile_seconds=2.0,
    ),
    "quick": Plan(
        mode="quick",
        rounds=5,
        per_round=100,
        stream_rounds=4,
        streams_per_round=5,
        throughput_seconds=5.0,
        connections=32,
        open_loop_rates=(50, 100, 500, 1000),
        open_loop_seconds=3.0,
        embedding_calls=10,
        memory_requests=20_000,
        observability_repeats=1,
        peer_memory_seconds=20.0,
        profile_seconds=8.0,
    ),
    "full": Plan(
        mode="full",
        rounds=10,
        per_round=200,
        stream_rounds=8,
        streams_per_round=8,
        throughput_seconds=10.0,
        connections=32,
        open_loop_rates=(50, 100, 250, 500, 1000, 1500),
        open_loop_seconds=8.0,
        embedding_calls=20,
        memory_requests=100_000,
        observability_repeats=2,
        peer_memory_seconds=60.0,
        profile_seconds=15.0,
    ),
}
