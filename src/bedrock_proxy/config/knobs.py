"""Tuning knobs read from the environment (BEDROCK_PROXY_*_SECONDS and the like): one parser, so a bad value
stops start-up with the same message whichever part of the gateway reads it."""

from __future__ import annotations

from collections.abc import Mapping


def env_seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be more than 0 seconds, not {raw!r}")
    return value
