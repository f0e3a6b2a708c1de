"""Percentiles and the "median over rounds" summary the method asks for (robust on a noisy machine)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds of a list of durations in seconds."""
    return {
        "n": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p90_ms": round(percentile(seconds, 90) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3) if seconds else float("nan"),
    }


def added_over_rounds(rounds: Sequence[tuple[Sequence[float], Sequence[float]]]) -> dict[str, float]:
    """Each round holds (direct, through) durations; the added p50/p99 is the median over rounds of
    (percentile through - percentile direct), so one noisy round cannot move the headline."""
    p50 = [percentile(through, 50) - percentile(direct, 50) for direct, through in rounds]
    p99 = [percentile(through, 99) - percentile(direct, 99) for direct, through in rounds]
    direct_all = [v for direct, _ in rounds for v in direct]
    through_all = [v for _, through in rounds for v in through]
    return {
        "rounds": len(rounds),
        "requests_per_round": len(rounds[0][0]) if rounds else 0,
        "added_p50_ms": round(statistics.median(p50) * 1000, 3) if p50 else float("nan"),
        "added_p99_ms": round(statistics.median(p99) * 1000, 3) if p99 else float("nan"),
        "direct": summary_ms(direct_all),
        "through": summary_ms(through_all),
    }
