"""The spend ledger (the sink) over the idempotent store: a batch whose commit succeeded but whose answer was
lost is retried by the sink's dispatcher, and still counts once, on every backend."""

from __future__ import annotations

import pytest

from bedrock_proxy.control.location import store_for_url
from bedrock_proxy.control.records import SpendEntry
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.observability.record import CallRecord, Usage
from bedrock_proxy.observability.sink import RetryableSinkError
from bedrock_proxy.spend import SpendLedger, SpendStoreError


class LostAnswer(SqlControlStore):
    """Commits the first batch, then fails as a connection dropped before the COMMIT's answer arrived."""

    def __init__(self, url: str) -> None:
        inner = store_for_url(url)
        super().__init__(inner.database)
        self.failures = 1

    async def record(self, entries: list[SpendEntry], *, keep_logs: bool = True) -> None:
        await super().record(entries, keep_logs=keep_logs)
        if self.failures:
            self.failures -= 1
            raise SpendStoreError("server closed the connection unexpectedly")


def call(request_id: str, cost: float, start: float) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        kind="chat",
        model_group="claude-3-haiku",
        deployment_id="claude-3-haiku#0",
        bedrock_model_id="anthropic.x",
        region="eu-west-1",
        start_time=start,
        end_time=start + 1,
        status=200,
        usage=Usage(prompt_tokens=10, completion_tokens=5),
        cost=cost,
        api_key_alias="team-a",
        api_key_id="k" * 64,
    )


@pytest.mark.parametrize("keep_logs", [True, False])
async def test_a_batch_retried_after_its_commit_succeeded_counts_once(
    database_url: str, keep_logs: bool
) -> None:
    store = LostAnswer(database_url)
    ledger = SpendLedger(store, keep_logs=keep_logs, refresh_seconds=3600)
    await ledger.start()
    try:
        batch = [call("r1", 0.5, 1000.0), call("r2", 0.25, 1001.0)]
        for record in batch:
            ledger.note(record)
        with pytest.raises(RetryableSinkError):
            await ledger.send_batch(batch)
        await ledger.send_batch(batch)  # what the dispatcher does next
        await ledger.refresh()
        assert ledger.spent("k" * 64) == 0.75
        assert await store.totals() == {"k" * 64: 0.75}
        assert len(await store.logs()) == (2 if keep_logs else 0)
    finally:
        await ledger.aclose()
