"""Window leases: a share of a minute window's room that the shared store grants one process, so that the
process's next admissions on that window are decided and counted here, without a round trip, and reported
back when the lease ends.

Why: one Redis round trip (about 0.2 ms at concurrency 1 on the bench machine, docs/performance.md) is
more than the 0.1 ms a shared limit may add, so a store asked on every request cannot meet that. With leases
a busy process asks the store about once per lease (`LEASE_SECONDS`), not once per request.

Why limits stay exact: a lease's units are counted in the window as taken ("leased") from the moment they
are granted until the holder reports how many it used, so the sum of what every process may still admit
never passes the limit. A lease is at most 1/16 of the room left and is only granted while that is worth
it (two admissions' worth), so near a limit every admission is checked in the store, one by one. A
refusal that only other processes' unused lease units cause is marked (`Choice.leased`): the caller asks
again until those leases end (FailoverState), so L sequential requests across processes are still exactly
L admitted. A holder that crashed never reports; the store counts its lease as used when the lease is
`LEASE_GRACE` seconds past its end (never more admitted, at worst a few fewer for that minute). A call that
asked for a lease and gave up (a timeout, a cancellation) abandons it (state_redis.ABANDON).

What a lease does not cover: in-flight slots (max_parallel_requests) and budgets are taken in the store on
every request. A cooldown set by another process is seen by a process holding a lease on that deployment
when the lease ends (at most `LEASE_SECONDS` later); its own failures end its leases at once.

The book is pure bookkeeping (no I/O, a clock passed in): the Redis store (state_redis.py) asks it first,
feeds it the grants of each admission it sends, and reports the leases it hands back.
"""

from __future__ import annotations

import itertools
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bedrock_proxy.router.state import ADMITTED, Check, Choice, Option

LEASE_SECONDS = 0.1  # how long a process admits from a lease before reporting it
LEASE_GRACE = 1.0  # past a lease's end, the store counts a lease never reported as used (a crashed holder)
FIRST_WANT = 2  # admissions a first lease asks for
RENEW_AFTER = 8  # admissions a lease must have seen to be renewed before it ends (busy under concurrency)
MAX_WANT = 1024  # admissions one lease asks for at most (the store also caps it at 1/16 of the room)
UNLIMITED = -1.0  # a grant's units for a window without a limit (counted only): any use is admitted
PRUNE_SECONDS = 60.0  # a window not asked about for this long is forgotten (its next lease starts small)
MAX_LIFETIME = 1.0  # the longest lease time a gateway may be configured with (a refusal may wait for it)


@dataclass(slots=True)
class Lease:
    """Units of one window this process may take until `ends`; `used` is reported when it ends."""

    key: str
    lease_id: str  # the store's record of the lease ('' for a window without a limit)
    units: float  # UNLIMITED: the window has no limit
    ends: float
    cooldown_key: str = ""  # the option it was granted with: its deployment's failures end the lease
    used: float = 0.0
    admissions: int = 0
    granted_at: float = 0.0
    renewing: bool = False

    def fits(self, needed: float) -> bool:
        return self.units == UNLIMITED or self.used + needed <= self.units


class LeaseBook:
    """The leases this process holds, one per window key at most."""

    def __init__(self, lifetime: float = LEASE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self.holder = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._live: dict[str, Lease] = {}
        self._ended: list[Lease] = []  # to report
        self._sending: list[Lease] = []  # being reported
        self._want: dict[str, int] = {}  # window key -> admissions its next lease asks for
        self._asked: dict[str, float] = {}  # window key -> when the store was last asked about it
        self._asking: set[str] = set()  # window keys a lease is being asked for
        self._renewals: list[tuple[Option, tuple[Check, ...]]] = []
        self._next_prune = clock() + PRUNE_SECONDS

    def new_id(self) -> str:
        return f"{self.holder}.{next(self._numbers)}"

    def admit(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice | None:
        """The first option admitted from the leases held, its checks and the common ones counted here; None
        when any of them is a slot, has no live lease or would not fit in it (the store must decide)."""
        if not options:
            return None
        option = options[0]
        if option.cooldown_key and not option.checks:
            return None  # no lease of its own ends with its failures: only the store knows its cooldown
        checks = (*common, *option.checks)
        if not checks:
            return None
        now = self.clock()
        leases: list[Lease] = []
        for check in checks:
            lease = self._live.get(check.key)
            if lease is None or check.holder:
                return None
            limited_now = check.limit is not None and lease.units == UNLIMITED  # a limit since the grant
            if lease.ends <= now or not lease.fits(check.needed) or limited_now:
                self._end(lease)
                return None
            leases.append(lease)
        if len(checks) > 1 and len({check.key for check in checks}) < len(checks):
            return None  # one window twice in one admission: the store adds it up
        renew = False
        for lease, check in zip(leases, checks, strict=True):
            lease.used += check.amount
            lease.admissions += 1
            renew = renew or self._renewal_due(lease, now)
        if renew and not self._asking.intersection(check.key for check in checks):
            self._renewals.append((option, tuple(common)))
        return Choice(0, (ADMITTED,), (0.0,))

    def _renewal_due(self, lease: Lease, now: float) -> bool:
        """A busy lease half through its time or its units is renewed before it ends: under
        concurrency, the gap between its end and the next grant would send every request to the store."""
        if lease.renewing or lease.admissions < RENEW_AFTER:
            return False
        late = now >= lease.ends - self.lifetime / 2
        if late or (lease.units != UNLIMITED and lease.used >= lease.units / 2):
            lease.renewing = True
            return True
        return False

    def renewals(self) -> list[tuple[Option, tuple[Check, ...]]]:
        """The admissions (first option, common checks) whose leases should be renewed now, each once: the
        store is asked for new leases on their windows, with nothing taken (needed and amount 0)."""
        due, self._renewals = self._renewals, []
        return due

    def renewal_want(self, checks: Sequence[Check]) -> int:
        """What a renewal asks for: twice the rate the live leases see, over a lease's time; 0 while a lease
        on one of these windows is already being asked for. A call that asked must end with `answered`."""
        keys = [check.key for check in checks if not check.holder]
        if not keys or self._asking.intersection(keys):
            return 0
        now = self.clock()
        want = FIRST_WANT
        for key in keys:
            lease = self._live.get(key)
            if lease is not None:
                rate = lease.admissions / max(now - lease.granted_at, 0.001)
                want = max(want, min(math.ceil(round(2 * rate * self.lifetime, 6)), MAX_WANT))
        self._asking.update(keys)
        return want

    def want(self, checks: Sequence[Check]) -> int:
        """Admissions the next lease on these windows should cover: twice what the last lease on them would
        have seen over its whole time at the rate it saw (a busy process asks for more, an idle one for
        little), within FIRST_WANT..MAX_WANT. 0 (no lease): when the store was not asked about any of them
        within a lease's time (at that rate a lease would only add a report per request), or while a lease
        on one of them is already being asked for (concurrent requests would each replace the last).
        A call that asked must end with `answered`."""
        now = self.clock()
        keys = [check.key for check in checks if not check.holder]
        busy = any(now - self._asked.get(key, -math.inf) < self.lifetime for key in keys)
        for key in keys:
            self._asked[key] = now
        if not busy or not keys or self._asking.intersection(keys):
            return 0
        self._asking.update(keys)
        return max(self._want.get(key, FIRST_WANT) for key in keys)

    def answered(self, checks: Sequence[Check]) -> None:
        """The store answered (or failed) a call that asked for a lease on these windows."""
        self._asking.difference_update(check.key for check in checks)

    def granted(self, key: str, lease_id: str, units: float, cooldown_key: str = "") -> None:
        old = self._live.get(key)
        if old is not None:
            self._end(old)
        now = self.clock()
        self._live[key] = Lease(key, lease_id, units, now + self.lifetime, cooldown_key, granted_at=now)

    def absorb(self, key: str, amount: float) -> bool:
        """Count a correction (a token estimate corrected, a rollback) in the live lease of `key`, reported
        with it, when the lease's units hold it (Redis counts them as taken already); False otherwise: the
        store must count it now, or other processes would not see usage past the lease."""
        lease = self._live.get(key)
        if lease is None or lease.ends <= self.clock():
            return False
        if amount > 0 and lease.units != UNLIMITED and lease.used + amount > lease.units:
            return False
        lease.used += amount
        return True

    def unreported(self, key: str) -> float:
        """What this process took on `key` that the store has not been told yet."""
        lease = self._live.get(key)
        taken = lease.used if lease is not None else 0.0
        ended = sum(lease.used for lease in self._ended if lease.key == key)
        return taken + ended + sum(lease.used for lease in self._sending if lease.key == key)

    def end_cooldown_key(self, cooldown_key: str) -> None:
        """The deployment of `cooldown_key` failed: its leases end, so the next admission asks the store."""
        for lease in [lease for lease in self._live.values() if lease.cooldown_key == cooldown_key]:
            self._end(lease)

    def end_all(self) -> None:
        for lease in list(self._live.values()):
            self._end(lease)

    def due(self) -> list[Lease]:
        """The leases that ended (by time or ended early), to report now; `unreported` counts them until
        `reported` says the store has them (or failed: it counts them as used when they expire)."""
        now = self.clock()
        for lease in [lease for lease in self._live.values() if lease.ends <= now]:
            self._end(lease)
        if now >= self._next_prune:
            self._prune(now)
        ended, self._ended = self._ended, []
        self._sending.extend(ended)
        return ended

    def reported(self, leases: Sequence[Lease]) -> None:
        gone = {id(lease) for lease in leases}
        self._sending = [lease for lease in self._sending if id(lease) not in gone]

    def _prune(self, now: float) -> None:
        """Forget windows not asked about for a while (one per API key, team and user: many, mostly idle);
        forgotten, a window starts again from no lease, as an idle one would."""
        self._next_prune = now + PRUNE_SECONDS
        idle = [
            key for key, asked in self._asked.items() if now - asked > PRUNE_SECONDS and key not in self._live
        ]
        for key in idle:
            del self._asked[key]
            self._want.pop(key, None)
        for key in [key for key in self._want if key not in self._asked and key not in self._live]:
            del self._want[key]

    def next_end(self) -> float:
        """Seconds until the soonest live lease ends (inf: none)."""
        if not self._live:
            return math.inf
        return max(min(lease.ends for lease in self._live.values()) - self.clock(), 0.0)

    def _end(self, lease: Lease) -> None:
        if self._live.get(lease.key) is lease:
            del self._live[lease.key]
            self._ended.append(lease)
            held = min(max(self.clock() - lease.granted_at, 0.001), self.lifetime)
            rate = lease.admissions / held  # an exhausted lease saw its admissions in less than its time
            if lease.admissions:
                self._asked[lease.key] = self.clock()  # busy until now: the next admission asks for a lease
            self._want[lease.key] = min(
                max(math.ceil(round(2 * rate * self.lifetime, 6)), FIRST_WANT), MAX_WANT
            )
