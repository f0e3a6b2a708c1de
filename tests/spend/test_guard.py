"""KeyGuard on its own: budgets read the ledger's totals as records are submitted, tpm counts real tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_proxy.config.schema import ApiKey
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.record import CallRecord, Usage
from bedrock_proxy.router.limits import limit_error
from bedrock_proxy.router.state import BudgetReservations, InMemoryState, WindowCounters
from bedrock_proxy.spend import BudgetExceeded, KeyGuard, SpendLedger, SqliteSpendStore, key_identities

KEYS = [
    ApiKey(key="sk-budget", alias="budget", spend_limit=0.01),
    ApiKey(key="sk-tpm", alias="tokens", tpm=100),
]
IDENTITIES = key_identities("sk-master", KEYS)
BY_ALIAS = {i.alias: i for i in IDENTITIES}


def record(alias: str, cost: float | None, tokens: int = 10, status: int = 200) -> CallRecord:
    return CallRecord(
        request_id="r",
        kind="chat",
        model_group="m",
        deployment_id="m#0",
        bedrock_model_id="x",
        region="eu-west-1",
        start_time=1.0,
        end_time=2.0,
        status=status,
        usage=Usage(prompt_tokens=tokens),
        cost=cost,
        api_key_alias=alias,
        api_key_id=BY_ALIAS[alias].key_id,
    )


@pytest.fixture
def ledger(tmp_path: Path) -> SpendLedger:
    return SpendLedger(SqliteSpendStore(tmp_path / "spend.db"))


async def test_a_budget_holds_from_the_moment_a_record_is_submitted(ledger: SpendLedger) -> None:
    guard = KeyGuard(IDENTITIES, ledger, WindowCounters(InMemoryState()), limit_error)
    await guard.admit(BY_ALIAS["budget"])
    ledger.note(record("budget", 0.006))
    ledger.note(record("budget", None))  # no price: counts nothing
    ledger.note(record("budget", None, status=500))  # a failure that produced nothing is not priced
    await guard.admit(BY_ALIAS["budget"])
    ledger.note(record("budget", 0.006))
    with pytest.raises(BudgetExceeded) as refused:
        await guard.admit(BY_ALIAS["budget"])
    assert "$0.012" in refused.value.message and "$0.01" in refused.value.message
    await guard.admit(BY_ALIAS["master_key"])  # the master key has no budget


async def test_tpm_refuses_a_key_once_its_answers_used_the_minute_s_tokens(ledger: SpendLedger) -> None:
    guard = KeyGuard(IDENTITIES, ledger, WindowCounters(InMemoryState()), limit_error)
    assert guard.counts_tokens
    await guard.admit(BY_ALIAS["tokens"])
    guard.observe(record("tokens", 0.0, tokens=60))
    await guard.admit(BY_ALIAS["tokens"])
    guard.observe(record("tokens", 0.0, tokens=60))
    with pytest.raises(GatewayError) as refused:
        await guard.admit(BY_ALIAS["tokens"])
    assert (refused.value.status, refused.value.code) == (429, "key_tpm_limit_exceeded")
    assert refused.value.retry_after is not None and refused.value.retry_after >= 1
    guard.observe(record("budget", 0.0, tokens=1000))  # another key's tokens are its own
    await guard.admit(BY_ALIAS["budget"])


async def test_a_call_cut_short_is_charged_what_it_cost(ledger: SpendLedger) -> None:
    guard = KeyGuard(IDENTITIES, ledger, WindowCounters(InMemoryState()), limit_error)
    ledger.note(record("budget", 0.011, status=499))  # the client left mid-stream: priced, so charged
    with pytest.raises(BudgetExceeded):
        await guard.admit(BY_ALIAS["budget"])


async def test_reservations_refuse_the_calls_a_budget_cannot_cover_and_settle_back(
    ledger: SpendLedger,
) -> None:
    guard = KeyGuard(IDENTITIES, ledger, WindowCounters(InMemoryState()), limit_error)
    key = BY_ALIAS["budget"]
    first = await guard.reserve(key, 0.004)
    second = await guard.reserve(key, 0.004)  # 0.008 reserved: fits the budget of 0.01
    assert first is not None and second is not None
    with pytest.raises(BudgetExceeded) as refused:
        await guard.reserve(key, 0.004)  # would make 0.012 with the calls in flight
    assert "reserved by its requests in flight" in refused.value.message
    assert "lower max_tokens" in refused.value.message
    third = await guard.reserve(key, 0.0015)  # a cheaper call still fits: 0.0095
    assert third is not None
    with pytest.raises(BudgetExceeded):
        await guard.reserve(key, 0.001)  # 0.0105 with the calls in flight
    ledger.note(record("budget", 0.009))  # the first call cost more than thought: spent 0.009
    first.settle()
    with pytest.raises(BudgetExceeded):
        await guard.admit(key)  # spent + reserved 0.0145: the check before the body is read sees reservations
    for reservation in (second, third):
        ledger.note(record("budget", 0.0001))
        reservation.settle()
        reservation.settle()  # idempotent
    assert guard.reservations.reserved(key.key_id) == 0.0
    assert await guard.reserve(key, 0.004) is not None  # 0.0092 spent, nothing in flight: a lone call goes


async def test_a_lone_call_is_admitted_while_spend_is_below_the_limit(ledger: SpendLedger) -> None:
    guard = KeyGuard(IDENTITIES, ledger, WindowCounters(InMemoryState()), limit_error)
    key = BY_ALIAS["budget"]
    ledger.note(record("budget", 0.009))
    lone = await guard.reserve(key, 0.5)  # nothing in flight: admitted, the one call that may pass the limit
    assert lone is not None
    with pytest.raises(BudgetExceeded):
        await guard.reserve(key, 0.0001)
    ledger.note(record("budget", 0.002))
    lone.settle()
    assert guard.reservations.reserved(key.key_id) == 0.0
    with pytest.raises(BudgetExceeded):
        await guard.reserve(key, 0.0001)  # 0.011 spent
    assert await guard.reserve(BY_ALIAS["master_key"], 1000.0) is None  # no budget, nothing reserved


async def test_a_budget_that_resets_counts_each_period_in_a_book_of_its_own() -> None:
    """The shared book keeps the highest spend it heard of; a reset (a new period) must start a new one."""
    book = BudgetReservations(InMemoryState(), ttl=60)
    first, spent, _ = await book.reserve("k", 0.5, 1.0, 0.75, period="2026-12")
    assert first is not None and spent == 0.75
    first.settle(0.5)
    refused, spent, _ = await book.reserve("k", 0.125, 1.0, 0.0, period="2026-12")  # a ledger behind
    assert refused is None and spent == 1.25, "the book remembers what this period spent"
    fresh, spent, _ = await book.reserve("k", 0.125, 1.0, 0.0, period="2027-01")
    assert fresh is not None and spent == 0.0, "the reset: a new period, a new book"
