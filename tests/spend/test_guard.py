"""KeyGuard on its own: budgets read the ledger's totals as records are submitted, tpm counts real tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_proxy.config.schema import ApiKey
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.record import CallRecord, Usage
from bedrock_proxy.router.limits import limit_error
from bedrock_proxy.router.state import InMemoryState, WindowCounters
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
    ledger.note(record("budget", 0.5, status=500))  # a failure costs nothing
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
