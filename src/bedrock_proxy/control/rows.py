"""Records <-> table rows, pure: a record's fields flattened (budget and limits inline), JSON for lists and
metadata. One table per kind of record; the ledger's columns are in migrations.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

import orjson

from bedrock_proxy.control.records import (
    BUDGET_FIELDS,
    KEY_FIELDS,
    LIMIT_FIELDS,
    TEAM_FIELDS,
    USER_FIELDS,
    Budget,
    KeyRecord,
    Limits,
    TeamRecord,
    UserRecord,
)

R = TypeVar("R", KeyRecord, TeamRecord, UserRecord)

_FLOATS = {"max_budget", "soft_budget", "budget_reset_at", "spend", "expires", "created_at", "updated_at"}
_INTS = set(LIMIT_FIELDS)


@dataclass(frozen=True)
class Table(Generic[R]):
    kind: str  # what changed_since and spends name it: "key" | "team" | "user"
    name: str
    id_column: str
    record: type[R]
    updatable: tuple[str, ...]  # the names update_* accepts

    @property
    def columns(self) -> tuple[str, ...]:
        out: list[str] = []
        for field in fields(self.record):
            if field.name == "budget":
                out += BUDGET_FIELDS
            elif field.name == "limits":
                out += LIMIT_FIELDS
            else:
                out.append(field.name)
        return tuple(out)

    def row(self, record: R) -> tuple[Any, ...]:
        flat: dict[str, Any] = {}
        for field in fields(record):
            value = getattr(record, field.name)
            if isinstance(value, Budget | Limits):
                flat.update({inner.name: getattr(value, inner.name) for inner in fields(value)})
            else:
                flat[field.name] = value
        return tuple(encode(name, flat[name]) for name in self.columns)

    def parse(self, row: Sequence[Any]) -> R:
        flat = {name: decode(name, value) for name, value in zip(self.columns, row, strict=True)}
        kwargs: dict[str, Any] = {}
        for field in fields(self.record):
            if field.name == "budget":
                kwargs["budget"] = Budget(**{name: flat[name] for name in BUDGET_FIELDS})
            elif field.name == "limits":
                kwargs["limits"] = Limits(**{name: flat[name] for name in LIMIT_FIELDS})
            else:
                kwargs[field.name] = flat[field.name]
        return self.record(**kwargs)

    def changes(self, changes: Mapping[str, object]) -> list[tuple[str, Any]]:
        """(column, stored value) of each change; ValueError naming a field this record cannot change."""
        unknown = sorted(set(changes) - set(self.updatable))
        if unknown:
            raise ValueError(
                f"{self.kind} records have no updatable field {', '.join(unknown)}; "
                f"the fields are {', '.join(self.updatable)}"
            )
        return [(name, encode(name, value)) for name, value in changes.items()]


def encode(name: str, value: Any) -> Any:
    if name == "models":
        return orjson.dumps(list(value or ())).decode()
    if name == "metadata":
        return orjson.dumps(value or {}).decode()
    if name == "blocked":
        return bool(value)
    if name == "spend":
        return float(value or 0.0)
    return value


def decode(name: str, value: Any) -> Any:
    if value is None:
        return 0.0 if name == "spend" else None
    if name == "models":
        return tuple(orjson.loads(value))
    if name == "metadata":
        return orjson.loads(value)
    if name == "blocked":
        return bool(value)
    if name in _FLOATS:
        return float(value)
    if name in _INTS:
        return int(value)
    return value


KEYS: Table[KeyRecord] = Table("key", "control_keys", "key_id", KeyRecord, KEY_FIELDS)
TEAMS: Table[TeamRecord] = Table("team", "control_teams", "team_id", TeamRecord, TEAM_FIELDS)
USERS: Table[UserRecord] = Table("user", "control_users", "user_id", UserRecord, USER_FIELDS)
TABLES = (KEYS, TEAMS, USERS)
