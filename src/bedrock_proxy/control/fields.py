"""The fields LiteLLM's management bodies share (budgets, limits, models, metadata), checked one by one.

Every check names the field it refuses and says what it takes, so a script gets a 400 it can act on, never a
500. Times go out as LiteLLM writes them (ISO 8601, UTC).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from bedrock_proxy.control.durations import next_reset, parse_duration
from bedrock_proxy.control.records import Budget, Limits

log = logging.getLogger("bedrock_proxy.control")


class FieldError(ValueError):
    """A body field the API refuses: `field` names it, the message says what it takes."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# fields LiteLLM's management bodies may carry that this gateway accepts and does not act on (documented in
# docs/keys.md): a script written for LiteLLM keeps working instead of failing on them
IGNORED = frozenset(
    {
        "aliases",
        "allowed_cache_controls",
        "allowed_routes",
        "budget_id",
        "config",
        "enforced_params",
        "guardrails",
        "key_type",
        "members",
        "members_with_roles",
        "model_aliases",
        "model_max_budget",
        "model_rpm_limit",
        "model_tpm_limit",
        "object_permission",
        "organization_id",
        "permissions",
        "prompts",
        "rpm_limit_type",
        "send_invite_email",
        "tags",
        "team_member_permissions",
        "tpm_limit_type",
    }
)


def check_known(body: Mapping[str, Any], accepted: frozenset[str], route: str) -> None:
    """Let a field the route does not take pass, as LiteLLM does (scripts written for its newer releases
    carry fields this gateway has no use for), but log it by name, so a typo does not pass silently."""
    unknown = sorted(name for name in body if name not in accepted and name not in IGNORED)
    if unknown:
        log.warning(
            "%s: ignored field(s) %s; it takes: %s", route, ", ".join(unknown), ", ".join(sorted(accepted))
        )


def money(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldError(name, f"{name} must be a number of USD (or null), not {value!r}")
    if value < 0:
        raise FieldError(name, f"{name} must be 0 or more USD, not {value!r}")
    return float(value)


def count(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FieldError(name, f"{name} must be a whole number above 0 (or null), not {value!r}")
    return value


def text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise FieldError(name, f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise FieldError(name, f"{name} must be a non-empty string, not {value!r}")
    return value.strip()


def flag(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise FieldError(name, f"{name} must be true or false, not {value!r}")
    return value


SPECIAL_MODEL_NAMES = frozenset({"all-proxy-models", "all-team-models"})


def models(body: Mapping[str, Any], name: str = "models") -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
        raise FieldError(name, f"{name} must be a list of model names, not {value!r}")
    # LiteLLM's "all-proxy-models" (every model) and "all-team-models" (a key's team's) mean what an empty
    # list means here
    return tuple(dict.fromkeys(m.strip() for m in value if m.strip() not in SPECIAL_MODEL_NAMES))


def metadata(body: Mapping[str, Any], name: str = "metadata") -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError(name, f"{name} must be a JSON object, not {value!r}")
    return value


def duration(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        parse_duration(value)
    except ValueError:
        raise FieldError(
            name,
            f'{name} {value!r} is not a duration: use a number and a unit, such as "30s", "10m", '
            '"1h", "1d", "30d" or "1mo"',
        ) from None
    return str(value).strip()


def moment(body: Mapping[str, Any], name: str) -> float | None:
    """An ISO 8601 time (UTC unless it says otherwise) or epoch seconds."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            pass
    raise FieldError(name, f"{name} must be an ISO 8601 time such as 2026-12-31T00:00:00Z, not {value!r}")


def parse_time(value: str) -> float:
    """ISO 8601 date or time -> epoch seconds (UTC when no offset is given); ValueError if not one."""
    when = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


BUDGET_NAMES = frozenset({"max_budget", "soft_budget", "budget_duration"})
LIMIT_NAMES = frozenset({"rpm_limit", "tpm_limit", "max_parallel_requests"})


def new_budget(body: Mapping[str, Any], now: float) -> Budget:
    period = duration(body, "budget_duration")
    return Budget(
        max_budget=money(body, "max_budget"),
        soft_budget=money(body, "soft_budget"),
        budget_duration=period,
        budget_reset_at=next_reset(now, period) if period else None,
    )


def new_limits(body: Mapping[str, Any]) -> Limits:
    return Limits(
        rpm_limit=count(body, "rpm_limit"),
        tpm_limit=count(body, "tpm_limit"),
        max_parallel_requests=count(body, "max_parallel_requests"),
    )


# the fields an update may change, each with its check; a field sent as null clears it
_CHANGES: dict[str, Callable[[Mapping[str, Any], str], object]] = {
    "max_budget": money,
    "soft_budget": money,
    "budget_duration": duration,
    "rpm_limit": count,
    "tpm_limit": count,
    "max_parallel_requests": count,
    "models": lambda body, name: models(body, name) or (),
    "metadata": lambda body, name: metadata(body, name) or {},
    "blocked": lambda body, name: bool(flag(body, name)),
    "key_alias": text,
    "team_alias": text,
    "team_id": text,
    "user_id": text,
    "user_email": text,
    "user_role": text,
}


def changes(body: Mapping[str, Any], names: frozenset[str], now: float) -> dict[str, object]:
    """The fields of `names` the body sends, checked; a new budget_duration starts a period now."""
    out: dict[str, object] = {}
    for name in sorted(names & body.keys()):
        out[name] = _CHANGES[name](body, name)
    if "budget_duration" in out:
        period = out["budget_duration"]
        out["budget_reset_at"] = next_reset(now, str(period)) if period else None
    return out


def budget_body(budget: Budget) -> dict[str, Any]:
    return {
        "spend": budget.spend,
        "max_budget": budget.max_budget,
        "soft_budget": budget.soft_budget,
        "budget_duration": budget.budget_duration,
        "budget_reset_at": iso(budget.budget_reset_at),
    }


def limits_body(limits: Limits) -> dict[str, Any]:
    return {
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "max_parallel_requests": limits.max_parallel_requests,
    }
