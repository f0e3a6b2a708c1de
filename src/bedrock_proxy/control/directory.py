"""The key directory: every generated key, team and user in memory, so a request is authenticated and its
budgets checked without a database round trip.

Loaded whole at start-up; then every `refresh_seconds` (1 s by default) one cheap query (`version()`) says
whether anything changed anywhere, and only what changed is re-read (`changed_since`): a change made on
another process or host is enforced here within about that delay. The process that made a change applies it
at once (`put_key`, `drop_keys`...). The same loop re-reads each budget's current-period spend and asks the
store to reset the budgets whose period ended (the store counts a reset once however many processes ask).

Spend between two reads: what this process charged (`observe`, as each record is submitted) counts at once,
and stays counted until a read that began after the ledger wrote it (`written`), so a call's cost is never
missing from the budget check and never counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bedrock_proxy.control.records import Budget, KeyRecord, Limits, TeamRecord, UserRecord
from bedrock_proxy.control.store import EVERYTHING, ControlStore
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import KeyIdentity, narrowed
from bedrock_proxy.observability.record import CallRecord

log = logging.getLogger("bedrock_proxy.control")

DEFAULT_REFRESH_SECONDS = 1.0
ADMIN_ROLE = "proxy_admin"


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget a key is held to, with what it spent in its current period (spend/guard.py reads it)."""

    kind: str  # "key" | "team" | "user"
    name: str
    book_key: str  # what in-flight reservations are booked under
    max_budget: float
    spent: float
    resets_at: float | None
    soft_budget: float | None = None


@dataclass(frozen=True, slots=True)
class LimitLine:
    """The rate limits of a key's team or user (spend/guard.py counts them beside the key's own): every key
    of the team (or user) counts in the same windows and in-flight slots."""

    kind: str  # "team" | "user"
    ident: str  # its id: what its windows are keyed by
    name: str  # its alias (or email), for the 429's message
    rpm: int | None
    tpm: int | None
    max_parallel_requests: int | None


# (kind, name, spent, soft_budget, resets_at): a soft budget was passed (once per period)
SoftBudgetListener = Callable[[str, str, float, float, float | None], None]


class _Pending:
    __slots__ = ("amounts", "written_at")

    def __init__(self, amounts: list[tuple[tuple[str, str], float]]) -> None:
        self.amounts = amounts
        self.written_at: float | None = None


class KeyDirectory:
    def __init__(
        self,
        store: ControlStore,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
        on_soft_budget: SoftBudgetListener | None = None,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.on_soft_budget = on_soft_budget
        self.keys: dict[str, KeyRecord] = {}
        self.teams: dict[str, TeamRecord] = {}
        self.users: dict[str, UserRecord] = {}
        self._identities: dict[str, KeyIdentity] = {}
        self._version = 0
        self._stored: dict[tuple[str, str], float] = {}
        self._local: dict[tuple[str, str], float] = {}
        self._pending: dict[tuple[str, float], _Pending] = {}
        self._alerted: set[tuple[str, str, float | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the store (its migrations run) and load every record before the first request."""
        await self.store.open()
        await self.reload()
        await self._read_spends()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="control:refresh")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.store.close()

    async def reload(self) -> None:
        version = await self.store.version()
        keys = await self.store.list_keys(limit=None)
        teams = await self.store.list_teams(limit=None)
        users = await self.store.list_users(limit=None)
        self.keys = {k.key_id: k for k in keys}
        self.teams = {t.team_id: t for t in teams}
        self.users = {u.user_id: u for u in users}
        self._version = version
        self._identities.clear()

    async def refresh(self) -> None:
        """One round: reset the budgets whose period ended, re-read what changed, re-read the spend."""
        await self.store.reset_budgets(self.clock())
        version, changed = await self.store.changed_since(self._version)
        if changed == [EVERYTHING]:
            await self.reload()
        else:
            for kind, ident in changed:
                await self._reread(kind, ident)
            self._version = version
        await self._read_spends()

    async def _reread(self, kind: str, ident: str) -> None:
        if kind == "key":
            key = await self.store.get_key(ident)
            self.put_key(key) if key is not None else self.drop_keys([ident])
        elif kind == "team":
            team = await self.store.get_team(ident)
            self.put_team(team) if team is not None else self.drop_teams([ident])
        elif kind == "user":
            user = await self.store.get_user(ident)
            self.put_user(user) if user is not None else self.drop_users([ident])

    async def _read_spends(self) -> None:
        began = time.monotonic()
        stored = await self.store.spends()
        # what the ledger wrote before this read began is in `stored` now; the rest still counts locally
        for call in [
            c for c, p in self._pending.items() if p.written_at is not None and p.written_at < began
        ]:
            del self._pending[call]
        local: dict[tuple[str, str], float] = {}
        for pending in self._pending.values():
            for owner, amount in pending.amounts:
                local[owner] = local.get(owner, 0.0) + amount
        self._stored, self._local = stored, local

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # keep enforcing what is in memory; say so once per outage
                if not self._failing:
                    log.warning("keys: cannot re-read keys and budgets from the database (%s)", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("keys: re-reading keys and budgets from the database again")
                self._failing = False

    # ------------------------------------------------------------------ changes made by this process
    def put_key(self, record: KeyRecord) -> None:
        self.keys[record.key_id] = record
        self._identities.pop(record.key_id, None)

    def drop_keys(self, key_ids: Iterable[str]) -> None:
        for kid in key_ids:
            self.keys.pop(kid, None)
            self._identities.pop(kid, None)

    def put_team(self, record: TeamRecord) -> None:
        self.teams[record.team_id] = record
        self._identities.clear()  # a team's models are its keys' when they have none

    def drop_teams(self, team_ids: Iterable[str]) -> None:
        for tid in team_ids:
            self.teams.pop(tid, None)
        self._identities.clear()

    def put_user(self, record: UserRecord) -> None:
        self.users[record.user_id] = record

    def drop_users(self, user_ids: Iterable[str]) -> None:
        for uid in user_ids:
            self.users.pop(uid, None)

    # ------------------------------------------------------------------ authentication (server/auth.py)
    def identity(self, key_id: str) -> KeyIdentity | None:
        record = self.keys.get(key_id)
        if record is None:
            return None
        cached = self._identities.get(key_id)
        if cached is None:
            team = self.teams.get(record.team_id) if record.team_id else None
            team_models = team.models if team is not None else ()
            cached = KeyIdentity(
                alias=record.key_alias or record.key_name,
                key_id=record.key_id,
                models=narrowed(record.models, team_models),
                team_models=frozenset(team_models),
                team_name=(team.team_alias or team.team_id) if team is not None else None,
                rpm=record.limits.rpm_limit,
                tpm=record.limits.tpm_limit,
                generated=True,
                team_id=record.team_id,
                user_id=record.user_id,
                max_parallel_requests=record.limits.max_parallel_requests,
            )
            self._identities[key_id] = cached
        return cached

    def authenticate(self, key_id: str) -> KeyIdentity | None:
        record = self.keys.get(key_id)
        if record is None:
            return None
        name = record.key_alias or record.key_name
        if record.blocked:
            raise _refused(
                f"The API key '{name}' is blocked. An administrator can unblock it with POST /key/unblock.",
                ErrorCode.KEY_BLOCKED,
            )
        team = self.teams.get(record.team_id) if record.team_id else None
        if team is not None and team.blocked:
            raise _refused(
                f"The team '{team.team_alias or team.team_id}' of API key '{name}' is blocked. An "
                "administrator can unblock it with POST /team/unblock.",
                ErrorCode.TEAM_BLOCKED,
            )
        if record.team_id and team is None:
            raise _refused(
                f"The team '{record.team_id}' of API key '{name}' no longer exists: ask for a new key.",
                ErrorCode.TEAM_BLOCKED,
            )
        if record.expires is not None and record.expires <= self.clock():
            raise _refused(
                f"The API key '{name}' expired at {_iso(record.expires)}. Ask the gateway's administrator "
                "for a new key, or to extend this one (POST /key/update with duration).",
                ErrorCode.KEY_EXPIRED,
            )
        return self.identity(key_id)

    def is_admin(self, principal: KeyIdentity) -> bool:
        """The key belongs to a user with the proxy_admin role: it may manage keys, teams and users."""
        user = self.users.get(principal.user_id) if principal.generated and principal.user_id else None
        return user is not None and user.user_role == ADMIN_ROLE

    # ------------------------------------------------------------------ budgets (spend/guard.py)
    def spend(self, kind: str, ident: str) -> float:
        owner = (kind, ident)
        return self._stored.get(owner, 0.0) + self._local.get(owner, 0.0)

    def _line(self, kind: str, ident: str, name: str, budget: Budget) -> BudgetLine | None:
        if budget.max_budget is None and budget.soft_budget is None:
            return None
        spent = self.spend(kind, ident)
        if budget.budget_reset_at is not None and budget.budget_reset_at <= self.clock():
            spent = self._local.get((kind, ident), 0.0)  # the period ended: its reset is on its way
        return BudgetLine(
            kind,
            name,
            ident if kind == "key" else f"{kind}:{ident}",
            budget.max_budget if budget.max_budget is not None else float("inf"),
            spent,
            budget.budget_reset_at,
            budget.soft_budget,
        )

    def all_lines(self, key_id: str) -> list[BudgetLine]:
        """Every budget (hard or soft) of the key, its team and its user."""
        record = self.keys.get(key_id)
        if record is None:
            return []
        lines = [self._line("key", key_id, record.key_alias or record.key_name, record.budget)]
        team = self.teams.get(record.team_id) if record.team_id else None
        if team is not None:
            lines.append(self._line("team", team.team_id, team.team_alias or team.team_id, team.budget))
        user = self.users.get(record.user_id) if record.user_id else None
        if user is not None:
            lines.append(self._line("user", user.user_id, user.user_email or user.user_id, user.budget))
        return [line for line in lines if line is not None]

    def budget_lines(self, principal: KeyIdentity) -> Sequence[BudgetLine]:
        return [line for line in self.all_lines(principal.key_id) if line.max_budget != float("inf")]

    def limit_lines(self, key_id: str) -> Sequence[LimitLine]:
        """The rpm, tpm and max_parallel_requests of the key's team and user (those that have any)."""
        record = self.keys.get(key_id)
        if record is None:
            return []
        lines: list[LimitLine] = []
        team = self.teams.get(record.team_id) if record.team_id else None
        if team is not None:
            lines.append(_limit_line("team", team.team_id, team.team_alias or team.team_id, team.limits))
        user = self.users.get(record.user_id) if record.user_id else None
        if user is not None:
            lines.append(_limit_line("user", user.user_id, user.user_email or user.user_id, user.limits))
        return [line for line in lines if line.rpm or line.tpm or line.max_parallel_requests]

    def counts_tokens_of(self, key_id: str) -> bool:
        """The key, its team or its user has a tpm limit: the key's answers' tokens are counted."""
        record = self.keys.get(key_id)
        if record is None:
            return False
        return bool(record.limits.tpm_limit) or any(line.tpm for line in self.limit_lines(key_id))

    # ------------------------------------------------------------------ spend as it happens
    def observe(self, record: CallRecord) -> None:
        """Count a charged record against its key's, team's and user's budgets at once (an observer of
        Observability, called as each record is submitted)."""
        key = self.keys.get(record.api_key_id or "")
        call = (record.request_id, record.start_time)  # the ledger's identity of a call
        if key is None or record.cost is None or record.cost <= 0 or call in self._pending:
            return
        owners = [("key", key.key_id)]
        if key.team_id:
            owners.append(("team", key.team_id))
        if key.user_id:
            owners.append(("user", key.user_id))
        amounts = [(owner, record.cost) for owner in owners]
        self._pending[call] = _Pending(amounts)
        for owner, amount in amounts:
            self._local[owner] = self._local.get(owner, 0.0) + amount
        self._check_soft(key.key_id)

    def written(self, calls: Iterable[tuple[str, float]]) -> None:
        """The ledger committed these calls (request id, start time): the next spend read includes them."""
        now = time.monotonic()
        for call in calls:
            pending = self._pending.get(call)
            if pending is not None and pending.written_at is None:
                pending.written_at = now

    def _check_soft(self, key_id: str) -> None:
        if self.on_soft_budget is None:
            return
        for line in self.all_lines(key_id):
            if line.soft_budget is None or line.spent < line.soft_budget:
                continue
            mark = (line.kind, line.book_key, line.resets_at)
            if mark not in self._alerted:
                self._alerted.add(mark)
                self.on_soft_budget(line.kind, line.name, line.spent, line.soft_budget, line.resets_at)


def _limit_line(kind: str, ident: str, name: str, limits: Limits) -> LimitLine:
    return LimitLine(kind, ident, name, limits.rpm_limit, limits.tpm_limit, limits.max_parallel_requests)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _refused(message: str, code: ErrorCode) -> GatewayError:
    return GatewayError(401, message, type="authentication_error", code=code)
