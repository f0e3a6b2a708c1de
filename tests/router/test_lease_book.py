"""The lease book alone (no store, a hand-moved clock): which admissions a process may decide by itself from
the window leases it holds, and what it must report when they end."""

from __future__ import annotations

import pytest

from bedrock_proxy.router.leases import FIRST_WANT, MAX_WANT, RENEW_AFTER, UNLIMITED, LeaseBook
from bedrock_proxy.router.state import ADMITTED, Check, Option


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock: Clock) -> LeaseBook:
    return LeaseBook(0.1, clock)


def rpm(key: str = "rpm:d", limit: float | None = 100) -> Option:
    return Option((Check(key, limit),))


def test_an_admission_is_decided_here_only_while_a_live_lease_covers_every_check(
    book: LeaseBook, clock: Clock
) -> None:
    assert book.admit([rpm()]) is None, "no lease: the store decides"
    book.granted("rpm:d", "p.0", 3)
    choices = [book.admit([rpm()]) for _ in range(4)]
    assert [c is not None and c.index == 0 and c.blocked_by == (ADMITTED,) for c in choices] == [True] * 3 + [
        False
    ], "three units: three admissions, then the store again"
    ended = book.due()
    assert [(lease.key, lease.lease_id, lease.used) for lease in ended] == [("rpm:d", "p.0", 3.0)]
    assert book.due() == [], "reported once"


def test_a_lease_ends_with_its_time_and_is_reported_with_what_it_counted(
    book: LeaseBook, clock: Clock
) -> None:
    book.granted("rpm:d", "p.0", 50)
    assert book.admit([rpm()]) is not None
    assert book.due() == [], "still live"
    assert book.next_end() == pytest.approx(0.1)
    clock.now += 0.1
    assert book.admit([rpm()]) is None, "ended: the store decides"
    (ended,) = book.due()
    assert ended.used == 1 and ended.admissions == 1
    assert book.next_end() == float("inf")


@pytest.mark.parametrize(
    ("checks", "why"),
    [
        ((Check("rpm:d", 100), Check("slots:d", 2, holder="h1")), "a slot is taken in the store"),
        ((Check("rpm:d", 100), Check("tpm:d", 1000, 10, 10)), "the tpm window has no lease"),
        ((Check("rpm:d", 100), Check("rpm:d", 100)), "one window twice"),
        ((), "nothing leased: only the store knows the cooldown"),
    ],
)
def test_the_store_decides_what_a_lease_does_not_cover(
    book: LeaseBook, checks: tuple[Check, ...], why: str
) -> None:
    book.granted("rpm:d", "p.0", 50)
    assert book.admit([Option(checks, "cooldown:d")]) is None, why


def test_common_checks_and_the_first_option_are_all_counted_or_none(book: LeaseBook) -> None:
    book.granted("rpm:*", "p.0", 10)
    book.granted("tpm:d", "p.0", 100)
    option = Option((Check("tpm:d", 1000, 40, 30),))
    for _ in range(3):
        assert book.admit([option], [Check("rpm:*", 100)]) is not None
    assert book.admit([option], [Check("rpm:*", 100)]) is None, "90 used and 40 more needed: past 100"
    assert book.unreported("rpm:*") == 3, "nothing was counted for the refused one"
    assert book.unreported("tpm:d") == 90


def test_a_window_without_a_limit_is_counted_here_without_bound_until_a_limit_appears(
    book: LeaseBook,
) -> None:
    book.granted("rpm:d", "", UNLIMITED)
    for _ in range(500):
        assert book.admit([rpm(limit=None)]) is not None
    assert book.admit([rpm(limit=10)]) is None, "a limit since the grant (a reload): the store decides"
    (ended,) = book.due()
    assert ended.used == 500 and ended.lease_id == ""


def test_corrections_go_into_the_live_lease_and_are_reported_with_it(book: LeaseBook, clock: Clock) -> None:
    assert not book.absorb("tpm:d", -5), "no lease: the store counts it"
    book.granted("tpm:d", "p.0", 1000)
    assert book.admit([Option((Check("tpm:d", 10_000, 100, 100),))]) is not None
    assert book.absorb("tpm:d", -60)
    assert book.unreported("tpm:d") == 40
    clock.now += 1
    assert not book.absorb("tpm:d", 5), "ended: the store counts it"
    (ended,) = book.due()
    assert ended.used == 40


def test_the_next_lease_asks_for_twice_what_the_last_one_saw(book: LeaseBook, clock: Clock) -> None:
    checks = (Check("rpm:d", 10_000),)
    assert book.want(checks) == 0, "first admission: no lease (an idle process would only add reports)"
    assert book.want(checks) == FIRST_WANT, "asked again within a lease's time: busy enough for one"
    assert book.want(checks) == 0, "while one call asks for a lease, the others do not"
    book.answered(checks)
    book.granted("rpm:d", "p.0", 1000)
    for _ in range(7):
        book.admit([rpm()])
    clock.now += 0.1
    book.due()
    assert book.want(checks) == 14, "7 admissions in a lease's time: twice that"
    book.answered(checks)
    book.granted("rpm:d", "p.1", 10_000)
    for _ in range(5000):
        book.admit([rpm()])
    book.end_all()  # exhausted at once: the rate it saw is far higher than its units
    book.due()
    assert book.want(checks) == MAX_WANT
    book.answered(checks)
    clock.now += 10
    assert book.want(checks) == 0, "idle for a while: no lease again"


def test_a_failure_of_a_deployment_ends_the_leases_granted_with_its_option(book: LeaseBook) -> None:
    book.granted("rpm:d", "p.0", 50, "cooldown:d")
    book.granted("rpm:*", "p.0", 50)
    book.end_cooldown_key("cooldown:d")
    assert [lease.key for lease in book.due()] == ["rpm:d"]
    assert book.admit([Option((), "cooldown:d")], [Check("rpm:*", 100)]) is None, "its cooldown: the store"
    assert book.admit([Option((), "")], [Check("rpm:*", 100)]) is not None, "a lone deployment never cools"
    assert book.unreported("rpm:*") == 1


def test_a_busy_lease_is_renewed_once_half_through_its_time_or_units(book: LeaseBook, clock: Clock) -> None:
    option = rpm()
    book.granted("rpm:d", "p.0", 100)
    for _ in range(RENEW_AFTER - 1):
        book.admit([option])
    clock.now += 0.06
    book.admit([option])
    assert book.renewals() == [(option, ())], "8 admissions and past half its time: renew before it ends"
    book.admit([option])
    assert book.renewals() == [], "once per lease"
    assert book.renewal_want(option.checks) == 30, "9 admissions in 60 ms: 15 in a lease's time, twice that"
    book.answered(option.checks)
    book.granted("rpm:d", "p.1", 20)
    for _ in range(RENEW_AFTER + 2):
        book.admit([option])
    assert book.renewals() == [(option, ())], "half its units used: renew"


def test_an_idle_lease_is_not_renewed_and_a_renewal_is_not_asked_twice(book: LeaseBook, clock: Clock) -> None:
    option = rpm()
    book.granted("rpm:d", "p.0", 100)
    clock.now += 0.09
    book.admit([option])
    assert book.renewals() == [], "one admission in its time: it ends, the next admission asks"
    book.granted("rpm:d", "p.1", 100)
    clock.now += 0.06
    assert book.renewal_want(option.checks) == FIRST_WANT
    assert book.renewal_want(option.checks) == 0, "already being asked for"
    for _ in range(RENEW_AFTER):
        book.admit([option])
    assert book.renewals() == [], "a lease is being asked for these windows already"


def test_a_renewal_asks_for_twice_the_rate_the_live_lease_sees(book: LeaseBook, clock: Clock) -> None:
    book.granted("rpm:d", "p.0", 1000)
    for _ in range(30):
        book.admit([rpm()])
    clock.now += 0.05  # 30 admissions in 50 ms: 600 a second, 60 in a lease's time
    assert book.renewal_want(rpm().checks) == 120


def test_a_correction_past_the_lease_s_units_goes_to_the_store_at_once(book: LeaseBook) -> None:
    book.granted("tpm:d", "p.0", 100)
    assert book.admit([Option((Check("tpm:d", 10_000, 30, 30),))]) is not None
    assert book.absorb("tpm:d", 60), "90 of 100: within the units Redis counts as taken"
    assert not book.absorb("tpm:d", 20), "past them: other processes must see it now"
    assert book.absorb("tpm:d", -50), "a correction down never hides usage"
    assert book.unreported("tpm:d") == 40


def test_windows_idle_for_a_minute_are_forgotten(book: LeaseBook, clock: Clock) -> None:
    for number in range(500):  # one window per API key
        checks = (Check(f"key:{number}:rpm", 100),)
        book.want(checks)
        book.want(checks)
        book.answered(checks)
    book.granted("key:0:rpm", "p.0", 10)
    clock.now += 61
    book.granted("key:0:rpm", "p.1", 10)  # still in use
    book.due()
    assert set(book._asked) | set(book._want) <= {"key:0:rpm"}
