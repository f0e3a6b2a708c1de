"""LiteLLM's /team/* and /user/* bodies <-> TeamRecord, UserRecord: pure translation, no I/O.

The handlers are server/team_routes.py. A team's or user's budget is shared by all its keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from bedrock_proxy.control import fields
from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.control.records import TeamRecord, UserRecord

TEAM_NAMES = frozenset(
    {"team_alias", "models", "metadata", "blocked", *fields.BUDGET_NAMES, *fields.LIMIT_NAMES}
)
TEAM_FIELDS = TEAM_NAMES | {"team_id"}
USER_NAMES = frozenset(
    {"user_email", "user_role", "models", "metadata", *fields.BUDGET_NAMES, *fields.LIMIT_NAMES}
)
# /user/new makes a key for the user unless auto_create_key is false, as LiteLLM does
USER_FIELDS = USER_NAMES | {"user_id", "auto_create_key", "key_alias", "duration"}
ROLES = ("proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer")


def new_team(body: Mapping[str, Any], now: float) -> TeamRecord:
    fields.check_known(body, TEAM_FIELDS, "POST /team/new")
    return TeamRecord(
        team_id=fields.text(body, "team_id") or str(uuid.uuid4()),
        team_alias=fields.text(body, "team_alias"),
        models=fields.models(body) or (),
        budget=fields.new_budget(body, now),
        limits=fields.new_limits(body),
        blocked=bool(fields.flag(body, "blocked")),
        metadata=fields.metadata(body) or {},
        created_at=now,
        updated_at=now,
    )


def team_changes(body: Mapping[str, Any], now: float) -> dict[str, object]:
    fields.check_known(body, TEAM_FIELDS, "POST /team/update")
    return fields.changes(body, TEAM_NAMES, now)


def named_ids(body: Mapping[str, Any], name: str) -> list[str]:
    ids = body.get(name)
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise FieldError(name, f"{name} must be a non-empty list of ids")
    return ids


def team_body(team: TeamRecord, spend: float | None = None) -> dict[str, Any]:
    budget = fields.budget_body(team.budget)
    if spend is not None:
        budget["spend"] = spend
    return {
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "models": list(team.models),
        **budget,
        **fields.limits_body(team.limits),
        "blocked": team.blocked,
        "metadata": team.metadata,
        "created_at": fields.iso(team.created_at),
        "updated_at": fields.iso(team.updated_at),
    }


def user_role(body: Mapping[str, Any]) -> str | None:
    role = fields.text(body, "user_role")
    if role is not None and role not in ROLES:
        raise FieldError("user_role", f"user_role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def new_user(body: Mapping[str, Any], now: float) -> UserRecord:
    fields.check_known(body, USER_FIELDS, "POST /user/new")
    return UserRecord(
        user_id=fields.text(body, "user_id") or str(uuid.uuid4()),
        user_email=fields.text(body, "user_email"),
        user_role=user_role(body) or "internal_user",
        models=fields.models(body) or (),
        budget=fields.new_budget(body, now),
        limits=fields.new_limits(body),
        metadata=fields.metadata(body) or {},
        created_at=now,
        updated_at=now,
    )


def user_changes(body: Mapping[str, Any], now: float) -> dict[str, object]:
    fields.check_known(body, USER_NAMES | {"user_id"}, "POST /user/update")
    out = fields.changes(body, USER_NAMES, now)
    if "user_role" in out:
        out["user_role"] = user_role(body)
    return out


def user_body(user: UserRecord, spend: float | None = None) -> dict[str, Any]:
    budget = fields.budget_body(user.budget)
    if spend is not None:
        budget["spend"] = spend
    return {
        "user_id": user.user_id,
        "user_email": user.user_email,
        "user_role": user.user_role,
        "models": list(user.models),
        **budget,
        **fields.limits_body(user.limits),
        "metadata": user.metadata,
        "created_at": fields.iso(user.created_at),
        "updated_at": fields.iso(user.updated_at),
    }
