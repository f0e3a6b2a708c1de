"""LiteLLM's /key/* bodies <-> KeyRecord: pure translation, no I/O (the handlers are server/key_routes.py).

A key is shown once, in /key/generate's (and /key/regenerate's) answer; every other answer names it by its
`token` (the sha256 hex the store keeps, LiteLLM's hashed token) and `key_name` ("sk-...wxyz").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from bedrock_proxy.control import fields
from bedrock_proxy.control.durations import next_reset
from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.control.records import KeyRecord
from bedrock_proxy.keys import key_id

GENERATE_FIELDS = frozenset(
    {
        "key",
        "key_alias",
        "key_name",
        "models",
        "duration",
        "expires",
        "team_id",
        "user_id",
        "metadata",
        "blocked",
        *fields.BUDGET_NAMES,
        *fields.LIMIT_NAMES,
    }
)
UPDATE_NAMES = frozenset(
    {
        "key_alias",
        "models",
        "team_id",
        "user_id",
        "metadata",
        "blocked",
        *fields.BUDGET_NAMES,
        *fields.LIMIT_NAMES,
    }
)
UPDATE_FIELDS = UPDATE_NAMES | {"key", "duration", "expires"}
REGENERATE_FIELDS = UPDATE_FIELDS | {"new_key"}
_TOKEN = re.compile(r"[0-9a-f]{64}")


def new_key() -> str:
    """A fresh key: sk- and 32 random URL-safe characters (192 bits)."""
    return "sk-" + secrets.token_urlsafe(24)


def key_name(key: str) -> str:
    """LiteLLM's display form: "sk-...wxyz" (the last four characters only)."""
    return f"sk-...{key[-4:]}"


def chosen_key(body: Mapping[str, Any], name: str = "key") -> str:
    """The key the caller chose (it must start with sk-, as LiteLLM requires), else a fresh one."""
    value = fields.text(body, name)
    if value is None:
        return new_key()
    if not value.startswith("sk-") or len(value) < 8:
        raise FieldError(name, f"{name} must start with 'sk-' and be at least 8 characters long")
    return value


def expiry(body: Mapping[str, Any], now: float) -> float | None:
    """`duration` ("30d"; null: never) or `expires` (an ISO time): when the key stops working."""
    if body.get("duration") is not None and body.get("expires") is not None:
        raise FieldError("duration", "send duration or expires, not both")
    period = fields.duration(body, "duration")
    if period is not None:
        return next_reset(now, period)
    return fields.moment(body, "expires")


def new_record(body: Mapping[str, Any], key: str, now: float) -> KeyRecord:
    """A /key/generate body -> the record to store for `key` (checked field by field)."""
    fields.check_known(body, GENERATE_FIELDS, "POST /key/generate")
    return KeyRecord(
        key_id=key_id(key),
        key_name=key_name(key),
        key_alias=fields.text(body, "key_alias") or fields.text(body, "key_name"),
        models=fields.models(body) or (),
        budget=fields.new_budget(body, now),
        limits=fields.new_limits(body),
        team_id=fields.text(body, "team_id"),
        user_id=fields.text(body, "user_id"),
        expires=expiry(body, now),
        blocked=bool(fields.flag(body, "blocked")),
        metadata=fields.metadata(body) or {},
        created_at=now,
        updated_at=now,
    )


def update_changes(body: Mapping[str, Any], now: float) -> dict[str, object]:
    """A /key/update (or /key/regenerate) body -> the store's changes; `key` names the key, not a change."""
    out = fields.changes(body, UPDATE_NAMES, now)
    if "duration" in body or "expires" in body:
        out["expires"] = expiry(body, now)
    return out


def named_key(value: object, name: str = "key") -> str:
    """The key_id a body or query names: the key itself (sk-...) or its token (sha256 hex)."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError(name, f"{name} must name a key: the key itself (sk-...) or its token")
    value = value.strip()
    return value if _TOKEN.fullmatch(value) else key_id(value)


def named_keys(body: Mapping[str, Any]) -> list[str]:
    """/key/delete's {"keys": [...]} as key_ids."""
    keys = body.get("keys")
    if not isinstance(keys, list) or not keys:
        raise FieldError("keys", "keys must be a non-empty list of keys (sk-...) or tokens")
    return [named_key(k, "keys") for k in keys]


def info(record: KeyRecord, spend: float | None = None) -> dict[str, Any]:
    """The key as /key/info's "info", /key/list's full objects and /key/update's answer show it."""
    budget = fields.budget_body(record.budget)
    if spend is not None:
        budget["spend"] = spend
    return {
        "token": record.key_id,
        "key_name": record.key_name,
        "key_alias": record.key_alias,
        **budget,
        "expires": fields.iso(record.expires),
        "models": list(record.models),
        **fields.limits_body(record.limits),
        "team_id": record.team_id,
        "user_id": record.user_id,
        "metadata": record.metadata,
        "blocked": record.blocked,
        "created_at": fields.iso(record.created_at),
        "updated_at": fields.iso(record.updated_at),
    }


def generated(record: KeyRecord, key: str) -> dict[str, Any]:
    """/key/generate's answer: the key itself (shown this once), then the record."""
    return {"key": key, **info(record)}
