"""Our sinks against a server that keeps Langfuse's contract: what arrives, and how refusals are handled."""

from __future__ import annotations

import pytest

from bedrock_proxy.observability.langfuse import LangfuseLegacySink, LangfuseOtlpSink
from bedrock_proxy.observability.sink import CredentialsSinkError, RetryableSinkError
from tests.fakes.langfuse_server import FakeLangfuse
from tests.observability.conftest import PUBLIC_KEY, SECRET_KEY
from tests.observability.records import record


@pytest.mark.parametrize("protobuf", [False, True], ids=["json", "protobuf"])
async def test_otlp_export_is_accepted_and_decoded(fake_langfuse: FakeLangfuse, protobuf: bool) -> None:
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY, protobuf=protobuf)
    rec = record(metadata={"session_id": "s-1", "tags": ["eu"]}, user="alice")
    try:
        await sink.send_batch([rec])
    finally:
        await sink.aclose()
    spans = fake_langfuse.spans
    assert len(spans) == 2
    assert {s["content_type"] for s in spans} == {
        "application/x-protobuf" if protobuf else "application/json"
    }
    assert {s["ingestion_version"] for s in spans} == {"4"}
    gen = next(s for s in spans if s["attributes"]["langfuse.observation.type"] == "generation")
    assert gen["attributes"]["session.id"] == "s-1"
    assert gen["attributes"]["user.id"] == "alice"
    assert gen["attributes"]["langfuse.trace.tags"] == ["eu"]
    assert gen["attributes"]["gen_ai.usage.input_tokens"] == 12
    assert gen["start_ns"] < gen["end_ns"]


async def test_large_exports_are_sent_gzipped(fake_langfuse: FakeLangfuse) -> None:
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY)
    try:
        await sink.send_batch([record() for _ in range(20)])
    finally:
        await sink.aclose()
    assert fake_langfuse.counts["gzip_requests"] == 1
    assert len(fake_langfuse.spans) == 40


async def test_wrong_keys_are_a_credentials_error_kept_for_retry(fake_langfuse: FakeLangfuse) -> None:
    """Issue 14, finding 10: a 401 used to be permanent, so the records were dropped for good."""
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, "sk-lf-wrong")
    try:
        with pytest.raises(CredentialsSinkError, match="401"):
            await sink.send_batch([record()])
    finally:
        await sink.aclose()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_retryable_and_carry_retry_after(
    fake_langfuse: FakeLangfuse, status: int
) -> None:
    fake_langfuse.set_mode(status=status, retry_after=3)
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY)
    try:
        with pytest.raises(RetryableSinkError) as info:
            await sink.send_batch([record()])
    finally:
        await sink.aclose()
    assert info.value.retry_after == 3


async def test_a_server_that_drops_the_connection_is_retryable(fake_langfuse: FakeLangfuse) -> None:
    fake_langfuse.set_mode(down=True)
    sink = LangfuseOtlpSink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY)
    try:
        with pytest.raises(RetryableSinkError):
            await sink.send_batch([record()])
    finally:
        await sink.aclose()


async def test_legacy_ingestion_delivers_trace_and_generation_events(fake_langfuse: FakeLangfuse) -> None:
    sink = LangfuseLegacySink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY)
    try:
        await sink.send_batch([record(metadata={"trace_id": "t-1"}), record()])
    finally:
        await sink.aclose()
    events = fake_langfuse.events
    assert [e["type"] for e in events] == ["trace-create", "generation-create"] * 2
    assert events[1]["body"]["traceId"] == "t-1"
    assert sink.event_errors == 0


async def test_legacy_per_event_refusals_in_a_207_are_counted(fake_langfuse: FakeLangfuse) -> None:
    sink = LangfuseLegacySink(fake_langfuse.url, PUBLIC_KEY, SECRET_KEY)
    original = sink.bodies

    def with_a_bad_event(records):
        return [
            body.replace(b'"type":"trace-create"', b'"type":"trace-made-up"') for body in original(records)
        ]

    sink.bodies = with_a_bad_event  # type: ignore[method-assign]
    try:
        await sink.send_batch([record()])
    finally:
        await sink.aclose()
    assert sink.event_errors == 1
    assert sink.extra_stats() == {"event_errors": 1}
    assert [e["type"] for e in fake_langfuse.events] == ["generation-create"]
