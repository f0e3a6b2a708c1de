"""Tuning knobs read from the environment (BEDROCK_PROXY_*_SECONDS and the like): one parser, so a bad value
stops start-up with the same message whichever part of the gateway reads it."""

from __future__ import annotations

from collections.abc import Mapping


def env_seconds(
    environ: Mapping[str, str], name: str, default: float, *, zero_allowed: bool = False
) -> float:
    """`zero_allowed`: 0 is a setting of its own (it turns the thing off)."""
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0 or (value == 0 and not zero_allowed):
        least = "0 or more" if zero_allowed else "more than 0"
        raise ValueError(f"{name} must be {least} seconds, not {raw!r}")
    return value
