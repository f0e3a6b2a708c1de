"""A ControlStore kept in dicts, for testing the key directory without a database (the real backends are
tested by tests/control's end-to-end tests and cp-store's storage tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from bedrock_proxy.control.records import BUDGET_FIELDS, LIMIT_FIELDS, KeyRecord, TeamRecord, UserRecord


def _changed(record: Any, changes: Mapping[str, object]) -> Any:
    budget = dataclasses.replace(record.budget, **{k: v for k, v in changes.items() if k in BUDGET_FIELDS})
    limits = dataclasses.replace(record.limits, **{k: v for k, v in changes.items() if k in LIMIT_FIELDS})
    plain = {k: v for k, v in changes.items() if k not in BUDGET_FIELDS and k not in LIMIT_FIELDS}
    return dataclasses.replace(record, budget=budget, limits=limits, **plain)


class MemoryStore:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {"key": {}, "team": {}, "user": {}}
        self.log: list[tuple[int, str, str]] = []
        self.spend: dict[tuple[str, str], float] = {}
        self.opened = False

    def _bump(self, kind: str, ident: str) -> None:
        self.log.append((len(self.log) + 1, kind, ident))

    async def open(self) -> None:
        self.opened = True

    async def close(self) -> None:
        self.opened = False

    async def _insert(self, kind: str, ident: str, record: Any) -> None:
        self.tables[kind][ident] = record
        self._bump(kind, ident)

    async def _update(self, kind: str, ident: str, changes: Mapping[str, object]) -> Any:
        record = self.tables[kind].get(ident)
        if record is None:
            return None
        record = self.tables[kind][ident] = _changed(record, changes)
        self._bump(kind, ident)
        return record

    async def _delete(self, kind: str, idents: Sequence[str]) -> list[str]:
        gone = [i for i in idents if self.tables[kind].pop(i, None) is not None]
        for ident in gone:
            self._bump(kind, ident)
        return gone

    async def insert_key(self, record: KeyRecord) -> None:
        await self._insert("key", record.key_id, record)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self.tables["key"].get(key_id)

    async def update_key(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord | None:
        return await self._update("key", key_id, changes)

    async def delete_keys(self, key_ids: Sequence[str]) -> list[str]:
        return await self._delete("key", key_ids)

    async def list_keys(self, **_: Any) -> list[KeyRecord]:
        return list(self.tables["key"].values())

    async def insert_team(self, record: TeamRecord) -> None:
        await self._insert("team", record.team_id, record)

    async def get_team(self, team_id: str) -> TeamRecord | None:
        return self.tables["team"].get(team_id)

    async def update_team(self, team_id: str, changes: Mapping[str, object]) -> TeamRecord | None:
        return await self._update("team", team_id, changes)

    async def list_teams(self, **_: Any) -> list[TeamRecord]:
        return list(self.tables["team"].values())

    async def insert_user(self, record: UserRecord) -> None:
        await self._insert("user", record.user_id, record)

    async def get_user(self, user_id: str) -> UserRecord | None:
        return self.tables["user"].get(user_id)

    async def list_users(self, **_: Any) -> list[UserRecord]:
        return list(self.tables["user"].values())

    async def reset_budgets(self, now: float) -> int:
        return 0

    async def version(self) -> int:
        return len(self.log)

    async def changed_since(self, version: int) -> tuple[int, list[tuple[str, str]]]:
        return len(self.log), [(kind, ident) for v, kind, ident in self.log if v > version]

    async def spends(self) -> dict[tuple[str, str], float]:
        return dict(self.spend)
