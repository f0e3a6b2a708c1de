"""A shared store that may fail (Redis, the host's SQLite file) in front of a per-process one: a request never
gets a 5xx or waits long because the shared store is unreachable or slow.

Every call to the shared store is bounded by `timeout`. On a failure the store is marked down: one warning
is logged for the whole outage (not one per request), `on_change(False, reason)` tells the wiring (a metric
and an alert), and for `retry_interval` seconds every call goes straight to the per-process store, so an
outage costs the requests nothing. Then one call tries the shared store again; once it answers, shared limits
resume (`on_change(True, ...)`, one info line). With fail_mode "closed" an admission is refused with a 503
while the shared store is down instead of being admitted against per-process limits.

Slots and budget reservations taken from the per-process store are given back to it; those the shared store
holds while it is down are freed by their lease (their TTL) there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.router.state import (
    Booking,
    Check,
    Choice,
    InMemoryState,
    Option,
    Readings,
    SharedState,
)

logger = logging.getLogger("bedrock_proxy.router")

FAIL_OPEN = "open"
FAIL_CLOSED = "closed"
DEFAULT_TIMEOUT = 0.1  # seconds per call: a slow store is treated as a down one
DEFAULT_RETRY_INTERVAL = 1.0  # seconds the shared store is left alone after a failure
# A refusal caused only by other processes' window leases is asked again every LEASE_POLL seconds while
# they may still end (`Choice.leased`: their holders report within a lease's time; at the latest Redis
# sweeps their records a second after), and never longer than LEASE_WAIT_MAX.
LEASE_POLL = 0.05
LEASE_WAIT_MAX = 2.0
StateChange = Callable[[bool, str], None]  # (up, reason) -> None
LeasedChoice = Callable[[Sequence[Option], Sequence[Check]], Choice | None]


def unavailable_error(description: str) -> GatewayError:
    return GatewayError(
        503,
        f"The gateway's shared rate-limit store ({description}) is unreachable and router_settings."
        "redis_fail_mode is 'closed', so requests are refused until it answers again; retry shortly.",
        type="service_unavailable",
        code=ErrorCode.SHARED_STATE_UNAVAILABLE,
        retry_after=1.0,
    )


class FailoverState:
    def __init__(
        self,
        shared: SharedState,
        *,
        fail_mode: str = FAIL_OPEN,
        timeout: float = DEFAULT_TIMEOUT,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        on_change: StateChange | None = None,
        local: InMemoryState | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shared = shared
        self.local = local if local is not None else InMemoryState()
        self.fail_closed = fail_mode == FAIL_CLOSED
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.on_change = on_change
        self.description = shared.description + (
            "; fails closed (503) while down" if self.fail_closed else "; per-process limits while down"
        )
        self._clock = clock
        self._down_until = 0.0  # monotonic time of the next try while down
        self.down = False
        self.errors = 0
        self._local_holders: set[str] = set()
        self._choose_leased: LeasedChoice | None = getattr(shared, "choose_leased", None)

    async def start(self) -> None:
        try:
            async with asyncio.timeout(max(self.timeout, 2.0)):
                await self.shared.start()
        except Exception as exc:  # unreachable at start: serve anyway, per the fail mode
            self._failed(exc)
            return
        logger.info("shared limits in %s", self.shared.description)

    async def aclose(self) -> None:
        try:
            await self.shared.aclose()
        except Exception as exc:  # shutting down: nothing left to protect
            logger.debug("closing the shared state store failed: %s", exc)

    def _usable(self) -> bool:
        return not self.down or self._clock() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self._down_until = self._clock() + self.retry_interval
        if self.down:
            return
        self.down = True
        reason = "timed out" if isinstance(exc, TimeoutError) else (str(exc) or type(exc).__name__)
        logger.warning(
            "the shared rate-limit store (%s) failed (%s): %s until it answers again",
            self.shared.description,
            reason,
            "refusing requests with 503" if self.fail_closed else "each process enforces its own limits",
        )
        if self.on_change is not None:
            self.on_change(False, reason)

    def _answered(self) -> None:
        if self.down:
            self.down = False
            logger.warning(
                "the shared rate-limit store (%s) answers again: limits are shared again",
                self.shared.description,
            )
            if self.on_change is not None:
                self.on_change(True, "answers again")

    async def choose(self, options: Sequence[Option], common: Sequence[Check] = ()) -> Choice:
        """From the shared store's window leases when they cover the admission (no round trip); else one
        call, asked again while only other processes' leases hold the room (see LEASE_POLL)."""
        leased = self._choose_leased
        if leased is not None and not self.down:
            choice = leased(options, common)
            if choice is not None:
                return choice
        choice = await self._choose(options, common)
        waited = 0.0
        while not choice.admitted and choice.leased > 0 and waited < LEASE_WAIT_MAX:
            pause = min(LEASE_POLL, choice.leased)
            await asyncio.sleep(pause)
            waited += pause
            choice = await self._choose(options, common)
        return choice

    async def _choose(self, options: Sequence[Option], common: Sequence[Check]) -> Choice:
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    choice = await self.shared.choose(options, common)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return choice
        if self.fail_closed:
            raise unavailable_error(self.shared.description)
        choice = self.local.choose_now(options, common)
        if choice.admitted:
            taken = (*options[choice.index].checks, *common)
            self._local_holders.update(check.holder for check in taken if check.is_slot)
        return choice

    async def settle(self, adds: Sequence[tuple[str, float]], releases: Sequence[tuple[str, str]]) -> None:
        local_holders = self._local_holders
        if local_holders and any(holder in local_holders for _, holder in releases):
            mine = [(key, holder) for key, holder in releases if holder in local_holders]
            local_holders.difference_update(holder for _, holder in mine)
            self.local.settle_now((), mine)
            releases = [(key, holder) for key, holder in releases if (key, holder) not in mine]
        if not adds and not releases:
            return
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    await self.shared.settle(adds, releases)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return
        self.local.settle_now(adds, ())

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]:
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    result = await self.shared.fail(fails_key, cooldown_key, allowed, cooldown_seconds)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return result
        return self.local.fail_now(fails_key, cooldown_key, allowed, cooldown_seconds)

    async def read(self, windows: Sequence[str], slots: Sequence[str], cooldowns: Sequence[str]) -> Readings:
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    readings = await self.shared.read(windows, slots, cooldowns)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return readings
        return self.local.read_now(windows, slots, cooldowns)

    async def reserve(
        self, key: str, holder: str, amount: float, limit: float, spent: float, ttl: float
    ) -> Booking:
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    booking = await self.shared.reserve(key, holder, amount, limit, spent, ttl)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return booking
        if self.fail_closed:
            raise unavailable_error(self.shared.description)
        booking = self.local.reserve_now(key, holder, amount, limit, spent, ttl)
        if booking.admitted:
            self._local_holders.add(holder)
        return booking

    async def release(self, key: str, holder: str, cost: float) -> None:
        if holder in self._local_holders:
            self._local_holders.discard(holder)
            self.local.release_now(key, holder, cost)
            return
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    await self.shared.release(key, holder, cost)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return
        self.local.release_now(key, holder, cost)  # the cost still counts here; the shared one expires

    async def claim(self, key: str, seconds: float) -> bool:
        if self._usable():
            try:
                async with asyncio.timeout(self.timeout):
                    claimed = await self.shared.claim(key, seconds)
            except Exception as exc:
                self._failed(exc)
            else:
                self._answered()
                return claimed
        return self.local.claim_now(key, seconds)
