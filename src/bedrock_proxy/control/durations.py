"""LiteLLM's budget_duration ("30s", "10m", "1h", "1d", "7d", "30d", "1mo"): parsed, and the next reset.

Pure functions, shared by the management API (the first reset time of a new key) and the storage (the next
one, when a period ends). A month is a calendar month (same day and time, clamped to the month's last day),
as LiteLLM resets monthly budgets.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")


def parse_duration(text: str) -> tuple[int, str]:
    """(count, unit) of "30d" -> (30, "d"); ValueError naming the accepted forms for anything else."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(
            f"budget_duration {text!r} is not a duration: use a positive number and a unit, e.g. "
            '"30s", "10m", "1h", "1d", "7d", "30d" or "1mo"'
        )
    return int(match.group(1)), match.group(2)


def next_reset(after: float, duration: str) -> float:
    """Epoch seconds one `duration` after `after` (epoch seconds)."""
    count, unit = parse_duration(duration)
    if unit != "mo":
        return after + count * _UNITS[unit]
    start = datetime.fromtimestamp(after, UTC)
    months = start.month - 1 + count
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day).timestamp()
