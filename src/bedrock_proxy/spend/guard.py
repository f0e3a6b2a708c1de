"""Per-key admission: a key past its spend_limit, rpm or tpm is refused before any upstream call.

Budgets read the ledger's in-memory totals; rpm and tpm count in the counters handed in (the wiring hands the
router's shared state: the same sliding minute windows as the gateway-wide limits, so a shared store shares
them across processes and hosts too; a key's checks are taken in one atomic step), and a key over its rpm or
tpm is refused with the error `limit_error` builds (the router's, so both limits answer alike). spend sits
beside the router, not above it: it imports neither. tpm counts the real tokens of each answer once it is
known: a key is refused while its last minute's tokens reach tpm.

Budgets hold under concurrency through reservations: `reserve` sets a call's maximum cost aside before it
is sent, in the same step as the budget check, and the reservation is settled when the call's record (its
real cost) is counted. The book is the one the wiring hands in: the router's shared store, so every worker
and host reserves against it, and each settled cost counts there at once for all of them. A call is
admitted while spent + reserved is below the key's spend_limit and, when other calls of the key are in
flight, only if its own maximum cost fits in what is left: concurrent calls can together spend at most the
budget (up to the estimate's error), and a lone call is admitted while the spend is below the limit, as
before, so it is the only one that can pass it (by its own cost).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import KeyIdentity
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.spend.ledger import SpendLedger
from bedrock_proxy.spend.reservations import LocalReservations, Reservation, Reservations

logger = logging.getLogger("bedrock_proxy.spend")

# OpenAI's SDKs do not retry a response that says so; an exhausted budget does not heal by retrying.
NO_RETRY_HEADER = (b"x-should-retry", b"false")


def usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.6f}".rstrip("0").rstrip(".")


class BudgetExceeded(GatewayError):
    """429 like OpenAI's exhausted quota (code insufficient_quota), type budget_exceeded like LiteLLM."""

    def __init__(
        self, alias: str, spent: float, limit: float, reserved: float = 0.0, wanted: float = 0.0
    ) -> None:
        in_flight = f" (and {usd(reserved)} is reserved by its requests in flight)" if reserved > 0 else ""
        if wanted > 0:
            in_flight += (
                f"; this request may cost up to {usd(wanted)}, more than is left while they run: retry "
                "when they have finished, or lower max_tokens"
            )
        super().__init__(
            429,
            f"Budget has been exceeded! API key '{alias}' has spent {usd(spent)} of its spend_limit of "
            f"{usd(limit)}{in_flight}. Ask the gateway's administrator to raise spend_limit for this key "
            "(general_settings.api_keys in config.yaml) or to give you another key.",
            type="budget_exceeded",
            code=ErrorCode.INSUFFICIENT_QUOTA,
            headers=(NO_RETRY_HEADER,),
        )


class BudgetLine(Protocol):
    """One budget a generated key is held to (its own, its team's or its user's), as the key directory
    (control/directory.py) reports it: the tightest of them refuses first."""

    @property
    def kind(self) -> str: ...  # "key", "team" or "user"
    @property
    def name(self) -> str: ...  # the alias or id the message names
    @property
    def book_key(self) -> str: ...  # what its reservations are booked under ("team:<id>"...)
    @property
    def max_budget(self) -> float: ...
    @property
    def spent(self) -> float: ...  # current period: stored + this process's not yet stored
    @property
    def resets_at(self) -> float | None: ...  # epoch seconds; None: a budget for life


class LimitLine(Protocol):
    """The rate limits of a generated key's team or user, as the key directory reports them: all the keys
    of a team (or user) count in the same windows and slots, beside each key's own."""

    @property
    def kind(self) -> str: ...  # "team" or "user"
    @property
    def ident(self) -> str: ...  # its id: what its windows are keyed by
    @property
    def name(self) -> str: ...  # its alias (or email), for the message
    @property
    def rpm(self) -> int | None: ...
    @property
    def tpm(self) -> int | None: ...
    @property
    def max_parallel_requests(self) -> int | None: ...


class BudgetBook(Protocol):
    """Where the budgets and the team and user limits of generated keys are read (the key directory)."""

    def budget_lines(self, principal: KeyIdentity) -> Sequence[BudgetLine]: ...

    def limit_lines(self, key_id: str) -> Sequence[LimitLine]: ...

    def counts_tokens_of(self, key_id: str) -> bool:
        """The generated key, its team or its user has a tpm limit: its answers' tokens are counted."""
        ...


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "it does not reset (a budget without budget_duration)"
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"it resets at {moment.isoformat(timespec='seconds').replace('+00:00', 'Z')}"


class PeriodBudgetExceeded(GatewayError):
    """429 budget_exceeded for a generated key's budget (key, team or user): names which budget, what was
    spent in its period and when it resets."""

    def __init__(
        self, line: BudgetLine, reserved: float = 0.0, wanted: float = 0.0, *, spent: float | None = None
    ) -> None:
        in_flight = f" (and {usd(reserved)} is reserved by requests in flight)" if reserved > 0 else ""
        if wanted > 0:
            in_flight += (
                f"; this request may cost up to {usd(wanted)}, more than is left while they run: retry "
                "when they have finished, or lower max_tokens"
            )
        super().__init__(
            429,
            f"Budget has been exceeded! The {line.kind} budget of {line.kind} '{line.name}' has spent "
            f"{usd(line.spent if spent is None else spent)} of its max_budget of {usd(line.max_budget)}"
            f"{in_flight}; "
            f"{_when(line.resets_at)}. Ask the gateway's administrator to raise max_budget "
            f"(POST /{line.kind}/update) or wait for the reset.",
            type="budget_exceeded",
            code=ErrorCode.INSUFFICIENT_QUOTA,
            headers=(NO_RETRY_HEADER,),
        )


class _Reservations:
    """One call's reservations under several budgets (a key's, its team's, its user's), settled together."""

    __slots__ = ("amount", "key_id", "parts")

    def __init__(self, key_id: str, amount: float, parts: list[Reservation]) -> None:
        self.key_id = key_id
        self.amount = amount
        self.parts = parts

    def settle(self, cost: float = 0.0) -> None:
        parts, self.parts = self.parts, []
        for part in parts:
            part.settle(cost)  # the call's cost counts against each of its budgets


def _slot_key(key_id: str, kind: str = "key") -> str:
    return f"{kind}-parallel:{key_id}"


def _rpm_key(key_id: str, kind: str = "key") -> str:
    return f"{kind}-rpm:{key_id}"


def _tpm_key(key_id: str, kind: str = "key") -> str:
    return f"{kind}-tpm:{key_id}"


_LIMIT_CODES = {
    ("key", "rpm"): ErrorCode.KEY_RPM_LIMIT_EXCEEDED,
    ("key", "tpm"): ErrorCode.KEY_TPM_LIMIT_EXCEEDED,
    ("team", "rpm"): ErrorCode.TEAM_RPM_LIMIT_EXCEEDED,
    ("team", "tpm"): ErrorCode.TEAM_TPM_LIMIT_EXCEEDED,
    ("user", "rpm"): ErrorCode.USER_RPM_LIMIT_EXCEEDED,
    ("user", "tpm"): ErrorCode.USER_TPM_LIMIT_EXCEEDED,
}
_LIMIT_WORDS = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "parallel": "requests in flight",
}
_LIMIT_FIELDS = {"rpm": "rpm_limit", "tpm": "tpm_limit", "parallel": "max_parallel_requests"}


class _Limit:
    """One limit an admission checks: whose (key, team, user), which (rpm, tpm, parallel), the 429's text."""

    __slots__ = ("kind", "limit", "measure", "owner")

    def __init__(self, kind: str, owner: str, measure: str, limit: int) -> None:
        self.kind = kind
        self.owner = owner  # "API key 'ci-bot'", "team 'qa' of API key 'ci-bot'"
        self.measure = measure
        self.limit = limit

    def error(self, limit_error: LimitError, wait: float) -> GatewayError:
        if self.measure == "parallel":
            field, code = "max_parallel_requests", ErrorCode.MAX_PARALLEL_REQUESTS_EXCEEDED
        else:
            # a key's own limits keep the names config api_keys give them; a team's or user's are LiteLLM's
            field = self.measure if self.kind == "key" else _LIMIT_FIELDS[self.measure]
            code = _LIMIT_CODES[(self.kind, self.measure)]
        owner = self.owner[0].upper() + self.owner[1:]
        return limit_error(
            f"{owner} is limited to {self.limit} {_LIMIT_WORDS[self.measure]} ({field})", wait, code
        )


class Counters(Protocol):
    """Sliding one-minute windows (what router.state.WindowCounters provides)."""

    async def take(
        self,
        windows: Sequence[tuple[str, float, float, float]],
        slots: Sequence[tuple[str, int, str]] = (),
    ) -> tuple[int, float]:
        """(key, limit, needed, amount) windows and (key, limit, holder) in-flight slots: all pass (total +
        needed <= limit; fewer than limit held) and are taken, or none is; (-1, 0.0) or (index of the
        refusing one, windows first then slots, and seconds until it has room)."""
        ...

    async def add(self, key: str, amount: float) -> None: ...

    async def take_slot(self, key: str, limit: int, holder: str) -> bool:
        """Hold one of `limit` in-flight slots of `key` for `holder`; False when all are held."""
        ...

    async def release_slot(self, key: str, holder: str) -> None: ...


# gives back what admit took for the request (its in-flight slot)
Release = Callable[[], Awaitable[None]]


# (message, seconds until the limit frees up, error code) -> the 429 the caller sees
LimitError = Callable[[str, float, ErrorCode], GatewayError]


class KeyGuard:
    def __init__(
        self,
        identities: Iterable[KeyIdentity],
        ledger: SpendLedger | None,
        counters: Counters,
        limit_error: LimitError,
        reservations: Reservations | None = None,
        book: BudgetBook | None = None,
    ) -> None:
        self.limit_error = limit_error
        self.book = book  # budgets of generated keys (key, team, user), when key management is on
        self.reservations: Reservations = reservations if reservations is not None else LocalReservations()
        self._keys = {i.key_id: i for i in identities if i.spend_limit is not None or i.rpm or i.tpm}
        self._tpm_ids = frozenset(i.key_id for i in self._keys.values() if i.tpm)
        self.ledger = ledger
        self.counters = counters
        self._pending: dict[str, asyncio.Task[None]] = {}  # key id -> its last tpm count still being written

    @property
    def counts_tokens(self) -> bool:
        return bool(self._tpm_ids) or self.book is not None

    def _identity(self, principal: KeyIdentity) -> KeyIdentity | None:
        """The limits this guard holds `principal` to: a configured key's, or a generated key's own."""
        if principal.generated:
            return principal
        return self._keys.get(principal.key_id)

    def keeps_budget(self, principal: KeyIdentity) -> bool:
        """The key has a spend_limit this guard enforces (its calls reserve their maximum cost)."""
        if principal.generated:
            return self.book is not None and bool(self.book.budget_lines(principal))
        identity = self._keys.get(principal.key_id)
        return identity is not None and identity.spend_limit is not None and self.ledger is not None

    def _check_budget(self, identity: KeyIdentity) -> None:
        assert identity.spend_limit is not None and self.ledger is not None
        spent = self.ledger.spent(identity.key_id)
        reserved = self.reservations.reserved(identity.key_id)
        if spent + reserved >= identity.spend_limit:
            raise BudgetExceeded(identity.alias, spent, identity.spend_limit, reserved)

    async def reserve(self, principal: KeyIdentity, max_cost: float) -> Reservation | None:
        """Check the key's budget and set `max_cost` (USD) aside for one call, in one step of the book (so
        concurrent calls, in any process sharing it, see each other's reservations); None for a key without
        a budget. Settle the reservation with the call's real cost once its record is submitted."""
        if principal.generated:
            return await self._reserve_lines(principal, max_cost)
        identity = self._keys.get(principal.key_id)
        if identity is None or identity.spend_limit is None or self.ledger is None:
            return None
        self._check_budget(identity)
        max_cost = max(max_cost, 0.0)
        limit = identity.spend_limit
        spent = self.ledger.spent(identity.key_id)
        reservation, spent, reserved = await self.reservations.reserve(
            identity.key_id, max_cost, limit, spent
        )
        if reservation is None:
            wanted = max_cost if spent + reserved < limit else 0.0
            raise BudgetExceeded(identity.alias, spent, limit, reserved, wanted)
        return reservation

    def _check_lines(self, principal: KeyIdentity, max_cost: float | None = None) -> None:
        """Refuse when any budget of a generated key (spent + reserved) has reached its max_budget, or,
        while its other calls are in flight, cannot take `max_cost` more."""
        if self.book is None:
            return
        for line in self.book.budget_lines(principal):
            reserved = self.reservations.reserved(line.book_key)
            if line.spent + reserved >= line.max_budget:
                raise PeriodBudgetExceeded(line, reserved)
            if max_cost is not None and reserved > 0 and line.spent + reserved + max_cost > line.max_budget:
                raise PeriodBudgetExceeded(line, reserved, max_cost)

    async def _reserve_lines(self, principal: KeyIdentity, max_cost: float) -> Reservation | None:
        """One reservation per budget line (key, team, user), each in its own shared book for the line's
        current period (its reset time names it: a reset starts a new count); all or none."""
        if self.book is None:
            return None
        lines = self.book.budget_lines(principal)
        if not lines:
            return None
        max_cost = max(max_cost, 0.0)
        self._check_lines(principal, max_cost)
        parts: list[Reservation] = []
        for line in lines:
            period = "" if line.resets_at is None else f"{line.resets_at:.0f}"
            part, spent, reserved = await self.reservations.reserve(
                line.book_key, max_cost, line.max_budget, line.spent, period
            )
            if part is None:
                for taken in parts:
                    taken.settle(0.0)
                wanted = max_cost if spent + reserved < line.max_budget else 0.0
                raise PeriodBudgetExceeded(line, reserved, wanted, spent=spent)
            parts.append(part)
        return _Reservations(principal.key_id, max_cost, parts)

    async def admit(self, principal: KeyIdentity, holder: str = "") -> Release | None:
        """Raise the error the caller should see, or count the request against its key's rpm, and its
        team's and user's (a generated key), and hold an in-flight slot of each that has
        max_parallel_requests (the returned Release gives them back). Every limit is taken in one atomic
        step of the shared store: a refused request counts against none."""
        identity = self._identity(principal)
        if identity is None:
            return None
        if identity.generated:
            self._check_lines(identity)
        elif identity.spend_limit is not None and self.ledger is not None:
            self._check_budget(identity)
        windows: list[tuple[str, float, float, float]] = []
        slots: list[tuple[str, int, str]] = []
        limits: list[_Limit] = []  # what each window, then each slot, is
        slot_limits: list[_Limit] = []
        counted = [("key", identity.key_id, f"API key '{identity.alias}'")]
        rates = [(identity.rpm, identity.tpm, identity.max_parallel_requests)]
        if identity.generated and self.book is not None:
            for line in self.book.limit_lines(identity.key_id):
                owner = f"{line.kind} '{line.name}' of API key '{identity.alias}'"
                counted.append((line.kind, line.ident, owner))
                rates.append((line.rpm, line.tpm, line.max_parallel_requests))
        if any(tpm for _, tpm, _ in rates):
            pending = self._pending.get(identity.key_id)
            if pending is not None:
                await asyncio.wait([pending])  # this process's last answer counts before the next check
        for (kind, ident, owner), (rpm, tpm, parallel) in zip(counted, rates, strict=True):
            if tpm:
                windows.append((_tpm_key(ident, kind), tpm, 1, 0))
                limits.append(_Limit(kind, owner, "tpm", tpm))
            if rpm:
                windows.append((_rpm_key(ident, kind), rpm, 1, 1))
                limits.append(_Limit(kind, owner, "rpm", rpm))
            if parallel and holder:
                slots.append((_slot_key(ident, kind), parallel, holder))
                slot_limits.append(_Limit(kind, owner, "parallel", parallel))
        if not windows and not slots:
            return None
        refused, wait = await self.counters.take(windows, slots)
        if refused >= 0:
            limit = [*limits, *slot_limits][refused]
            raise limit.error(self.limit_error, wait if limit.measure != "parallel" else 1.0)
        if not slots:
            return None
        taken = [key for key, _, _ in slots]

        async def release() -> None:
            for key in taken:
                await self.counters.release_slot(key, holder)

        return release

    async def drain(self) -> None:
        """At shutdown, before the store closes: the last settlements are written."""
        await self.reservations.drain()

    def observe(self, record: CallRecord) -> None:
        """Count an answer's tokens against its key's tpm (called as each record is submitted; written in
        the background, awaited by the key's next admission in this process)."""
        key_id = record.api_key_id
        if key_id is None:
            return
        counted = key_id in self._tpm_ids or (self.book is not None and self.book.counts_tokens_of(key_id))
        if counted and record.usage.total_tokens:
            previous = self._pending.get(key_id)
            task = asyncio.ensure_future(self._count(key_id, record.usage.total_tokens, previous))
            self._pending[key_id] = task
            task.add_done_callback(lambda done: self._forget(key_id, done))

    async def _count(self, key_id: str, tokens: int, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self.counters.add(_tpm_key(key_id), tokens)
        if self.book is not None:  # the key's team's and user's tpm count every key's tokens
            for line in self.book.limit_lines(key_id):
                if line.tpm:
                    await self.counters.add(_tpm_key(line.ident, line.kind), tokens)

    def _forget(self, key_id: str, task: asyncio.Task[None]) -> None:
        if self._pending.get(key_id) is task:
            del self._pending[key_id]
        if not task.cancelled() and task.exception() is not None:
            logger.warning("counting key tokens failed: %s", task.exception())
