"""The storage contract of the control plane: keys, teams, users, their spend, and the spend ledger.

One interface, three backends (control/sqlite.py, postgres.py, mysql.py), chosen from the database URL by
control/location.py. Every method is async; the backends keep their I/O on a thread of their own, so the
event loop that serves requests never waits on the database. Management writes bump a version, so every
process can cache the records and re-read only what changed (`changed_since`); spend never bumps it (it is
read with `spends`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bedrock_proxy.control.records import KeyRecord, SpendEntry, TeamRecord, UserRecord

DEFAULT_DATABASE_URL = "sqlite:///bedrock-proxy.db"

# what spend_report groups by (one name, or several for a breakdown); the row key each dimension gets
REPORT_DIMENSIONS = {"day": "day", "team": "team_id", "key": "key_id", "user": "user_id", "model": "model"}
# changed_since's answer when the caller is older than the change log kept: reload everything
EVERYTHING = ("all", "*")


class StoreError(ValueError):
    """The store cannot be used; the message says what to change (a ValueError: start-up reports it)."""


class Conflict(StoreError):
    """A write would duplicate a unique value; `field` names it (key_id, key_alias, team_id, user_id)."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field} {value!r} already exists")
        self.field = field
        self.value = value


class ControlStore(Protocol):
    async def open(self) -> None:
        """Connect and run the schema migrations; raise StoreError naming what to fix."""
        ...

    async def close(self) -> None: ...

    # ------------------------------------------------------------------ keys
    async def insert_key(self, record: KeyRecord) -> None:
        """Conflict on a duplicate key_id or key_alias."""
        ...

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def update_key(self, key_id: str, changes: Mapping[str, object]) -> KeyRecord | None:
        """Set the named fields (records.KEY_FIELDS; ValueError for another name); None: no such key.
        Conflict when key_alias would duplicate another key's."""
        ...

    async def rekey(self, old_key_id: str, new_key_id: str, new_key_name: str) -> KeyRecord | None:
        """The key under a new id (regenerate), keeping its settings and spend; None: no such key."""
        ...

    async def delete_keys(self, key_ids: Sequence[str]) -> list[str]:
        """The ids that existed and are deleted."""
        ...

    async def list_keys(
        self,
        *,
        team_id: str | None = None,
        user_id: str | None = None,
        offset: int = 0,
        limit: int | None = 100,
    ) -> list[KeyRecord]:
        """Oldest first; limit None: all of them."""
        ...

    # ------------------------------------------------------------------ teams
    async def insert_team(self, record: TeamRecord) -> None: ...

    async def get_team(self, team_id: str) -> TeamRecord | None: ...

    async def update_team(self, team_id: str, changes: Mapping[str, object]) -> TeamRecord | None: ...

    async def delete_teams(self, team_ids: Sequence[str]) -> list[str]:
        """Deletes the teams only: their keys keep their team_id (the API decides what happens to them)."""
        ...

    async def list_teams(self, *, offset: int = 0, limit: int | None = 100) -> list[TeamRecord]: ...

    # ------------------------------------------------------------------ users
    async def insert_user(self, record: UserRecord) -> None: ...

    async def get_user(self, user_id: str) -> UserRecord | None: ...

    async def update_user(self, user_id: str, changes: Mapping[str, object]) -> UserRecord | None: ...

    async def delete_users(self, user_ids: Sequence[str]) -> list[str]: ...

    async def list_users(self, *, offset: int = 0, limit: int | None = 100) -> list[UserRecord]: ...

    # ------------------------------------------------------------------ budgets and changes
    async def reset_budgets(self, now: float) -> int:
        """Wherever a budget period ended (budget_reset_at <= now): spend -> 0 and the next reset time
        (one budget_duration after now). Counted once however many processes call it. The number reset."""
        ...

    async def version(self) -> int:
        """Bumped by every management write and budget reset (not by spend)."""
        ...

    async def changed_since(self, version: int) -> tuple[int, list[tuple[str, str]]]:
        """(the current version, the (kind, id) written after `version`), kind "key" | "team" | "user".
        [EVERYTHING] when the change log no longer reaches back to `version`: reload all."""
        ...

    async def spends(self) -> dict[tuple[str, str], float]:
        """(kind, id) -> spend in the current budget period, for every key, team and user."""
        ...

    # ------------------------------------------------------------------ the spend ledger
    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        """Count each call (request_id and start_time) once, all or nothing: its key's lifetime total, its
        key's, team's and user's current-period spend, the daily aggregates, and (keep_logs) its ledger row.
        """
        ...

    async def totals(self) -> dict[str, float]:
        """key_id -> USD spent over the key's life (config keys' spend_limit)."""
        ...

    async def spend_logs(
        self,
        *,
        key_id: str | None = None,
        team_id: str | None = None,
        user_id: str | None = None,
        model: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int = 100,
    ) -> list[SpendEntry]:
        """Newest first; start/end bound end_time (epoch seconds, inclusive)."""
        ...

    async def spend_report(
        self, *, start: float, end: float, group_by: str | Sequence[str]
    ) -> list[dict[str, object]]:
        """From the daily aggregates: every UTC day from start's to end's, grouped by one or more of
        REPORT_DIMENSIONS ("day", "team", "key", "user", "model"). Each row has the dimensions' keys
        (day as "YYYY-MM-DD", team_id, key_id, user_id, model; "" for none) and spend, requests,
        prompt_tokens, completion_tokens; by spend (most first), by day (oldest first) when grouped by day."""
        ...
