"""Shared state: the counters every limit and cooldown reads, behind one interface, so they can hold across
worker processes and hosts.

The interface is built around admissions, not single counters: `choose` checks every limit of one admission
and takes them all (or nothing) in one atomic step, so with a store shared by many processes a limit of L
requests a minute admits exactly L sequential requests, and at most L plus those in flight when concurrent.
A check-then-add in two steps could not promise that. Three stores implement it:

- `InMemoryState` (here): one process, plain dicts; the default.
- `SqliteState` (state_sqlite.py): the worker processes of one host (`serve --num-workers N`, no Redis).
- `RedisState` (state_redis.py): every process and host pointed at one Redis; `FailoverState`
  (state_failover.py) puts a per-process store behind it for when Redis is down.

What is kept, for any store: minute windows (per-second buckets summed over the last 60 s: rpm, tpm, failure
counts), in-flight slots (each held by a named holder, with a lease so a crashed process cannot hold one
forever), and cooldowns (a key that lives for the cooldown's seconds). Every store keeps its own clock (this
process's, the host's, Redis's), so only durations cross the interface. Routing's usage and latency
statistics are minute windows too (strategies.py), and an alert's "once per subject" is a `claim`.

Budgets (`reserve`, `release`): per key, the money its calls in flight set aside (each reservation named by
its holder and expiring after `ttl`, so a crashed process cannot hold money forever) and the key's spend as
the store counts it: the highest figure any process reported (its ledger's, read from the spend database)
plus the real cost of every call settled since, so a process sees another's spend at once, not when its
ledger next reads the database.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger("bedrock_proxy.router")

WINDOW_SECONDS = 60
SLOT_REFUSED_WAIT = 1.0  # seconds a client is told to wait for an in-flight slot
ADMITTED = -1  # Choice.blocked_by: this option was admitted (or not looked at)
COOLING = -2  # Choice.blocked_by: this option is cooling down


@dataclass(frozen=True, slots=True)
class Check:
    """One limit of an admission. A window check passes while `total + needed <= limit` and then adds
    `amount` (the estimate for tokens, 1 for requests); a slot check (`holder` set) passes while fewer than
    `limit` slots are held and then takes one for `holder`. `limit` None: always passes, only counts."""

    key: str
    limit: float | None
    needed: float = 1.0
    amount: float = 1.0
    holder: str = ""

    @property
    def is_slot(self) -> bool:
        return bool(self.holder)


@dataclass(frozen=True, slots=True)
class Option:
    """One way to admit a request: its checks, all or none taken; skipped while `cooldown_key` cools down."""

    checks: tuple[Check, ...]
    cooldown_key: str = ""


@dataclass(frozen=True, slots=True)
class Choice:
    """What `choose` did: the admitted option's index (-1: none), and for each option looked at, which check
    refused it (ADMITTED, COOLING or the check's index) and the seconds until it may have room; when one of
    the common checks refused, its index and wait (no option was looked at). `leased`: see leases.py."""

    index: int
    blocked_by: tuple[int, ...] = ()
    waits: tuple[float, ...] = ()
    common_blocked: int = ADMITTED
    common_wait: float = 0.0
    leased: float = 0.0  # > 0: refused only for room other processes' leases hold; they end within this

    @property
    def admitted(self) -> bool:
        return self.index >= 0


@dataclass(slots=True)
class Readings:
    """Window totals, in-flight counts and cooldowns read at once, for strategies that compare them."""

    totals: dict[str, float] = field(default_factory=dict)
    slots: dict[str, int] = field(default_factory=dict)
    cooling: dict[str, float] = field(default_factory=dict)  # seconds left; absent: not cooling down

    def total(self, key: str) -> float:
        return self.totals.get(key, 0.0)

    def in_flight(self, key: str) -> int:
        return self.slots.get(key, 0)

    def cooling_for(self, key: str) -> float:
        return self.cooling.get(key, 0.0)


@dataclass(frozen=True, slots=True)
class Booking:
    """What `reserve` did: admitted or not, and the key's spend and reservations (before this one) it saw."""

    admitted: bool
    spent: float
    reserved: float


def budget_allows(spent: float, reserved: float, amount: float, limit: float) -> bool:
    """The budget rule every store applies: nothing once spent + reserved reach the limit; a call beside
    others in flight only if its own maximum fits too (a lone call is admitted while spend is below the
    limit, so it is the only one that can pass it, by its own cost)."""
    if spent + reserved >= limit:
        return False
    return reserved <= 0 or spent + reserved + amount <= limit


BUDGET_KEEP_SECONDS = 86400.0  # a key's budget entry outlives its last use by a day (then re-seeded)


class SharedState(Protocol):
    """Where limits count. Every method is one round trip for a remote store."""

    description: str  # what check-config and the start-up log say: "in-process", "redis at host:6379"...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def choose(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        """Admit the first option, in order, that is not cooling down and passes every check: take all its
        checks at once, with the `common` checks (the gateway's own limits, which any option needs; they
        are checked first). Options after the admitted one are not looked at."""
        ...

    async def settle(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        """Add amounts to windows (corrections, may be negative) and give back (slot key, holder) slots."""
        ...

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:
        """Count one failure; past `allowed` in a minute (and cooldown_seconds > 0) the key cools down for
        that long and the count starts again. Returns (failures this minute, whether this call cooled it)."""
        ...

    async def read(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        """Current totals, in-flight counts and cooldowns."""
        ...

    async def reserve(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:
        """Check a budget and set `amount` aside for `holder` in one step (see `budget_allows`). `spent` is
        the caller's own figure for the key: the store keeps the higher of it and its own. The reservation
        expires after `ttl` seconds unless released first."""
        ...

    async def release(self, key: str, holder: str, cost: float) -> None:
        """Give a reservation back and add the call's real cost to the key's spend."""
        ...

    async def claim(self, key: str, seconds: float) -> bool:
        """True for the first caller in `seconds` (it holds the key that long), False while another does."""
        ...


class _MinuteWindow:
    """Per-second buckets over the last minute with a running total: O(1) amortised per update."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[float]] = deque()  # [second, amount], oldest first
        self.total = 0.0

    def expire(self, second: int) -> None:
        buckets = self.buckets
        oldest = second - WINDOW_SECONDS
        while buckets and buckets[0][0] <= oldest:
            self.total -= buckets.popleft()[1]
        if not buckets:
            self.total = 0.0  # no float drift once the window empties

    def add(self, amount: float, now: float) -> float:
        second = int(now)
        self.expire(second)
        buckets = self.buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += amount
        else:
            buckets.append([second, amount])
        self.total += amount
        return self.total

    def free_in(self, limit: float, needed: float, now: float) -> float:
        """Seconds until `needed` more fits under `limit` (0: it fits now)."""
        self.expire(int(now))
        return free_in(((s, a) for s, a in self.buckets), self.total, limit, needed, now)


def free_in(
    buckets: Iterable[tuple[float, float]], total: float, limit: float, needed: float, now: float
) -> float:
    """Seconds until a window of (second, amount) buckets, oldest first, has room for `needed` under
    `limit`: when enough of the oldest buckets have left the minute. A minute when it never fits."""
    excess = total + needed - limit
    if excess <= 0:
        return 0.0
    for second, amount in buckets:
        excess -= amount
        if excess <= 0:
            return float(max(second + WINDOW_SECONDS - now, 0.0))
    return float(WINDOW_SECONDS)


class InMemoryState:
    """The default store: plain dicts, one process, no locks (the event loop is single-threaded, and no
    method awaits, so each is atomic)."""

    description = "in-process (each worker process keeps its own limits)"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, _MinuteWindow] = {}
        self._slots: dict[str, set[str]] = {}
        self._cooldowns: dict[str, float] = {}
        self._spent: dict[str, float] = {}
        self._held: dict[str, dict[str, tuple[float, float]]] = {}  # key -> holder -> (amount, expiry)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    # the synchronous core, also what FailoverState falls back to
    def choose_now(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        now = self.clock()
        if common:
            blocked, wait = self._blocked(Option(tuple(common)), now)
            if blocked != ADMITTED:
                return Choice(-1, common_blocked=blocked, common_wait=wait)
        blocked_by: list[int] = []
        waits: list[float] = []
        for index, option in enumerate(options):
            blocked, wait = self._blocked(option, now)
            blocked_by.append(blocked)
            waits.append(wait)
            if blocked == ADMITTED:
                for check in (*option.checks, *common):
                    if check.is_slot:
                        self._slots.setdefault(check.key, set()).add(check.holder)
                    elif check.amount:
                        self._window(check.key).add(check.amount, now)
                return Choice(index, tuple(blocked_by), tuple(waits))
        return Choice(-1, tuple(blocked_by), tuple(waits))

    def _blocked(self, option: Option, now: float) -> tuple[int, float]:
        if option.cooldown_key:
            left = self._cooldowns.get(option.cooldown_key, 0.0) - now
            if left > 0:
                return COOLING, left
        for index, check in enumerate(option.checks):
            if check.limit is None:
                continue
            if check.is_slot:
                if len(self._slots.get(check.key, ())) >= check.limit:
                    return index, SLOT_REFUSED_WAIT
                continue
            window = self._windows.get(check.key)
            if window is None:
                if check.needed > check.limit:
                    return index, float(WINDOW_SECONDS)
                continue
            window.expire(int(now))
            if window.total + check.needed > check.limit:
                return index, window.free_in(check.limit, check.needed, now)
        return ADMITTED, 0.0

    def settle_now(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        now = self.clock()
        for key, amount in adds:
            if amount:
                self._window(key).add(amount, now)
        for key, holder in releases:
            held = self._slots.get(key)
            if held is not None:
                held.discard(holder)

    def fail_now(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:
        now = self.clock()
        fails = self._window(fails_key).add(1, now)
        if fails > allowed and cooldown_seconds > 0:
            self._cooldowns[cooldown_key] = now + cooldown_seconds
            self._windows.pop(fails_key, None)
            return fails, True
        return fails, False

    def read_now(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        now = self.clock()
        readings = Readings()
        for key in windows:
            window = self._windows.get(key)
            if window is not None:
                window.expire(int(now))
            readings.totals[key] = window.total if window is not None else 0.0
        for key in slots:
            readings.slots[key] = len(self._slots.get(key, ()))
        for key in cooldowns:
            left = self._cooldowns.get(key, 0.0) - now
            if left > 0:
                readings.cooling[key] = left
        return readings

    def reserve_now(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:
        now = self.clock()
        held = self._held.setdefault(key, {})
        for gone in [name for name, (_, expiry) in held.items() if expiry <= now]:
            del held[gone]
        spent = max(self._spent.get(key, 0.0), spent)
        self._spent[key] = spent
        reserved = sum(amount for amount, _ in held.values())
        if not budget_allows(spent, reserved, amount, limit):
            return Booking(False, spent, reserved)
        held[holder] = (amount, now + ttl)
        return Booking(True, spent, reserved)

    def release_now(self, key: str, holder: str, cost: float) -> None:
        held = self._held.get(key)
        if held is not None:
            held.pop(holder, None)
            if not held:
                del self._held[key]
        if cost:
            self._spent[key] = self._spent.get(key, 0.0) + cost

    def claim_now(self, key: str, seconds: float) -> bool:
        now = self.clock()
        if self._cooldowns.get(key, 0.0) > now:
            return False
        self._cooldowns[key] = now + seconds
        return True

    def _window(self, key: str) -> _MinuteWindow:
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _MinuteWindow()
        return window

    # SharedState
    async def choose(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        return self.choose_now(options, common)

    async def settle(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        self.settle_now(adds, releases)

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:
        return self.fail_now(fails_key, cooldown_key, allowed, cooldown_seconds)

    async def read(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        return self.read_now(windows, slots, cooldowns)

    async def reserve(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:
        return self.reserve_now(key, holder, amount, limit, spent, ttl)

    async def release(self, key: str, holder: str, cost: float) -> None:
        self.release_now(key, holder, cost)

    async def claim(self, key: str, seconds: float) -> bool:
        return self.claim_now(key, seconds)


class WindowCounters:
    """Minute windows of a SharedState as plain tuples, for packages beside the router (the key guard) that
    must not import its types: `take` is one atomic admission, `add` one correction."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def take(
        self,
        windows: Sequence[tuple[str, float, float, float]],
        slots: Sequence[tuple[str, int, str]] = (),
    ) -> tuple[int, float]:
        """(key, limit, needed, amount) windows and (key, limit, holder) in-flight slots, all taken or none:
        (-1, 0.0), or the index of the one that refused (windows first, then slots) and the seconds until
        it has room."""
        checks = [Check(key, limit, needed, amount) for key, limit, needed, amount in windows]
        checks += [Check(key, limit, holder=holder) for key, limit, holder in slots]
        option = Option(tuple(checks))
        choice = await self.state.choose([option])
        if choice.admitted:
            return -1, 0.0
        return choice.blocked_by[0], choice.waits[0]

    async def add(self, key: str, amount: float) -> None:
        await self.state.settle(((key, amount),), ())

    async def take_slot(self, key: str, limit: int, holder: str) -> bool:
        """Hold one of `limit` in-flight slots of `key` for `holder` (a request id), or say they are all
        held; shared across processes like every slot of the store."""
        choice = await self.state.choose([Option((Check(key, limit, holder=holder),))])
        return choice.admitted

    async def release_slot(self, key: str, holder: str) -> None:
        await self.state.settle((), ((key, holder),))


class _SharedReservation:
    __slots__ = ("_book", "amount", "holder", "key_id", "store_key")

    def __init__(
        self, book: BudgetReservations, key_id: str, store_key: str, holder: str, amount: float
    ) -> None:
        self._book: BudgetReservations | None = book
        self.key_id = key_id
        self.store_key = store_key
        self.holder = holder
        self.amount = amount

    def settle(self, cost: float = 0.0) -> None:
        book, self._book = self._book, None
        if book is not None:
            book.release(self, cost)


class BudgetReservations:
    """Budget reservations in a SharedState, for the key guard (spend/guard.py, which must not import the
    router): what spend.reservations.Reservations asks. Reserving is one store call on the request path;
    settling is sync for the guard and written in the background (for the in-process store, at once)."""

    def __init__(self, state: SharedState, ttl: float, holder_prefix: str = "") -> None:
        self.state = state
        self.ttl = ttl
        self._holder_prefix = holder_prefix or uuid.uuid4().hex[:12] + ":"
        self._numbers = itertools.count()
        self._mine: dict[str, float] = {}  # key id -> USD reserved by this process's calls in flight
        self._count: dict[str, int] = {}
        self._writing: set[asyncio.Task[None]] = set()

    @staticmethod
    def store_key(key_id: str, period: str = "") -> str:
        """One book per key and budget period (a reset starts a new one; the old one expires)."""
        return f"budget:{key_id}:{period}" if period else f"budget:{key_id}"

    def reserved(self, key_id: str) -> float:
        return self._mine.get(key_id, 0.0)

    async def reserve(
        self, key_id: str, amount: float, limit: float, spent: float, period: str = ""
    ) -> tuple[_SharedReservation | None, float, float]:
        holder = self._holder_prefix + str(next(self._numbers))
        key = self.store_key(key_id, period)
        booking = await self.state.reserve(key, holder, amount, limit, spent, self.ttl)
        if not booking.admitted:
            return None, booking.spent, booking.reserved
        self._mine[key_id] = self._mine.get(key_id, 0.0) + amount
        self._count[key_id] = self._count.get(key_id, 0) + 1
        return _SharedReservation(self, key_id, key, holder, amount), booking.spent, booking.reserved

    def release(self, reservation: _SharedReservation, cost: float) -> None:
        key_id = reservation.key_id
        left = self._count.get(key_id, 0) - 1
        if left <= 0:
            self._mine.pop(key_id, None)
            self._count.pop(key_id, None)
        else:
            self._count[key_id] = left
            self._mine[key_id] = max(self._mine[key_id] - reservation.amount, 0.0)
        key = reservation.store_key
        if isinstance(self.state, InMemoryState):
            self.state.release_now(key, reservation.holder, cost)
            return
        task = asyncio.ensure_future(self._release(key, reservation.holder, cost))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _release(self, key: str, holder: str, cost: float) -> None:
        try:
            await self.state.release(key, holder, cost)
        except Exception as exc:  # the store is down: the reservation expires there by its TTL
            logger.warning("settling a budget reservation failed: %s", exc)

    async def drain(self, timeout: float = 2.0) -> None:
        if self._writing:
            await asyncio.wait(list(self._writing), timeout=timeout)
