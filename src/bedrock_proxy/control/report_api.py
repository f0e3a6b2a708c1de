"""GET /global/spend/report's answer, in LiteLLM's shapes, from the store's daily aggregate rows (pure).

group_by "team" (LiteLLM's default) and "customer" (a key's user) answer one entry per day, each with its
teams (customers) and their spend per model; "api_key" answers one entry per key with its models; "model"
and "day" are this gateway's own additions in the per-day shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bedrock_proxy.control.fields import FieldError

# the report's group_by -> (the store's dimension, the per-day list's name, the entry's name field)
GROUPS: dict[str, tuple[str, str, str]] = {
    "team": ("team", "teams", "team_name"),
    "customer": ("user", "customers", "customer"),
    "user": ("user", "customers", "customer"),
    "model": ("model", "models", "model"),
}
FLAT = {"api_key": "key", "key": "key"}
NAMES = (*GROUPS, *FLAT, "day")


def dimensions(group_by: str) -> list[str]:
    """What to ask the store for: the day, the group, and the model under it."""
    if group_by in FLAT:
        return ["key", "model"]
    if group_by == "day":
        return ["day"]
    if group_by not in GROUPS:
        raise FieldError("group_by", f"group_by must be one of {', '.join(NAMES)}, not {group_by!r}")
    dimension = GROUPS[group_by][0]
    return ["day", dimension] if dimension == "model" else ["day", dimension, "model"]


def _number(row: Mapping[str, object], name: str) -> float:
    value = row.get(name, 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _tokens(row: Mapping[str, object]) -> int:
    return int(_number(row, "prompt_tokens") + _number(row, "completion_tokens"))


def report(
    rows: Sequence[Mapping[str, object]], group_by: str, name_of: Callable[[str, str], str]
) -> list[dict[str, Any]]:
    """The store's rows for `dimensions(group_by)` -> LiteLLM's answer; `name_of(kind, id)` gives a team's
    alias (or a key's alias) for display."""
    if group_by in FLAT:
        return _per_key(rows, name_of)
    if group_by == "day":
        return [
            {
                "group_by_day": str(row.get("day", "")),
                "total_spend": _number(row, "spend"),
                "requests": int(_number(row, "requests")),
                "total_tokens": _tokens(row),
            }
            for row in sorted(rows, key=lambda r: str(r.get("day", "")))
        ]
    dimension, list_name, entry_name = GROUPS[group_by]
    field = {"team": "team_id", "user": "user_id", "model": "model"}[dimension]
    days: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        day = str(row.get("day", ""))
        ident = str(row.get(field, "") or "")
        shown = name_of(dimension, ident) if ident else "Unassigned"
        entry = days.setdefault(day, {}).setdefault(
            ident, {entry_name: shown, "total_spend": 0.0, "metadata": []}
        )
        entry["total_spend"] += _number(row, "spend")
        if dimension != "model":
            entry["metadata"].append(
                {"model": row.get("model", ""), "spend": _number(row, "spend"), "total_tokens": _tokens(row)}
            )
        else:
            entry["total_tokens"] = entry.get("total_tokens", 0) + _tokens(row)
    return [
        {
            "group_by_day": day,
            list_name: sorted(entries.values(), key=lambda e: -float(e["total_spend"])),
        }
        for day, entries in sorted(days.items())
    ]


def _per_key(
    rows: Sequence[Mapping[str, object]], name_of: Callable[[str, str], str]
) -> list[dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = {}
    for row in rows:
        kid = str(row.get("key_id", ""))
        entry = keys.setdefault(
            kid,
            {
                "api_key": kid,
                "key_alias": name_of("key", kid),
                "total_cost": 0.0,
                "total_input_tokens": 0,
                "total_output_tokens": 0,
                "model_details": [],
            },
        )
        entry["total_cost"] += _number(row, "spend")
        entry["total_input_tokens"] += int(_number(row, "prompt_tokens"))
        entry["total_output_tokens"] += int(_number(row, "completion_tokens"))
        entry["model_details"].append(
            {
                "model": row.get("model", ""),
                "total_cost": _number(row, "spend"),
                "prompt_tokens": int(_number(row, "prompt_tokens")),
                "completion_tokens": int(_number(row, "completion_tokens")),
            }
        )
    return sorted(keys.values(), key=lambda e: -float(e["total_cost"]))
