"""What each stage of observability costs per record, in process CPU time (time.process_time): robust on a
loaded machine, where throughput runs are not. The records are those the gateway makes for the bench's small
chat call.

`python -m bench.observability_stages [--records N]` prints microseconds of CPU per record for:
- langfuse_encode: the Langfuse OTLP JSON export of 100-record batches (LangfuseOtlpSink.encode);
- gzip: level-1 gzip of such a batch (what the sinks send);
- metrics: GatewayMetrics.request_finished (the Prometheus counters and histograms);
- dispatch_submit: RecordDispatcher.submit (the request path's share of a sink);
- ledger_note, ledger_write: the spend ledger's request-path count and its SQLite write (500-record batches);
- langfuse_lane: all of the Langfuse sink's work in the background: the dispatcher's task, encoding, gzip and
  the HTTP POST to the fake Langfuse (another process), records submitted at 2,000 a second, the CPU of the
  same paced loop without records subtracted.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bedrock_proxy.observability.dispatch import RecordDispatcher
from bedrock_proxy.observability.langfuse import LangfuseOtlpSink
from bedrock_proxy.observability.metrics import GatewayMetrics, overhead_seconds
from bedrock_proxy.observability.record import Attempt, CallRecord, Usage
from bedrock_proxy.spend.ledger import SpendLedger
from bedrock_proxy.spend.sqlite import SqliteSpendStore
from bench import payloads
from bench.configs import LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY
from bench.processes import fake_langfuse

BATCH = 100
ANSWER = "Emulated answer: " + payloads.SMALL_PROMPT


def chat_record(index: int, now: float) -> CallRecord:
    """A record as the gateway makes it for the bench's small chat call (model bench-fast, one attempt)."""
    model = payloads.CHAT_MODEL_ID
    return CallRecord(
        request_id=f"{index:032x}",  # the gateway's own ids are uuid4 hex
        kind="chat",
        model_group="bench-fast",
        deployment_id="bench-fast",
        bedrock_model_id=model,
        region="eu-west-1",
        start_time=now,
        end_time=now + 0.002,
        status=200,
        upstream_latency=0.0012,
        usage=Usage(prompt_tokens=17, completion_tokens=12),
        cost=0.00001925,
        input_cost=0.00000425,
        output_cost=0.000015,
        input=[{"role": "user", "content": payloads.SMALL_PROMPT}],
        output={"role": "assistant", "content": ANSWER},
        finish_reason="stop",
        params={"max_tokens": 256, "temperature": 0.5},
        api_key_alias="master_key",
        api_key_id="0" * 64,
        attempts=(Attempt("bench-fast", "bench-fast", model, "eu-west-1", now + 0.0005, now + 0.0017, 200),),
    )


def _best_us(work: Callable[[], object], per: int, runs: int = 5) -> float:
    """The least CPU of `runs` runs, in microseconds per item: the run least disturbed by the machine."""
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return round(best / per * 1e6, 2)


async def _ledger(records: list[CallRecord], work: Path) -> tuple[float, float]:
    ledger = SpendLedger(SqliteSpendStore(work / "spend.db"))
    await ledger.start()
    try:
        note = _best_us(lambda: [ledger.note(r) for r in records], len(records))
        started = time.process_time()
        for i in range(0, len(records), SpendLedger.max_batch):
            await ledger.send_batch(records[i : i + SpendLedger.max_batch])
        write = round((time.process_time() - started) / len(records) * 1e6, 2)
    finally:
        await ledger.aclose()
    return note, write


async def _lane(url: str, records: list[CallRecord], rate: float = 2000.0, step: int = 20) -> dict:
    sink = LangfuseOtlpSink(url, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
    dispatcher = RecordDispatcher([sink])
    await dispatcher.start()
    started = time.process_time()
    for _ in range(0, len(records), step):
        await asyncio.sleep(step / rate)
    idle = time.process_time() - started
    started = time.process_time()
    for i in range(0, len(records), step):
        for record in records[i : i + step]:
            dispatcher.submit(record, (sink.name,))
        await asyncio.sleep(step / rate)
    await dispatcher.aclose(timeout=60)  # delivers what is still queued
    busy = time.process_time() - started
    stats = dispatcher.stats()[sink.name]
    return {"us": round((busy - idle) / len(records) * 1e6, 2), "delivered": stats["delivered"]}


def measure(count: int) -> dict:
    now = time.time()
    records = [chat_record(i, now) for i in range(count)]
    batches = [records[i : i + BATCH] for i in range(0, count, BATCH)]
    sink = LangfuseOtlpSink("http://langfuse.invalid", LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
    body = sink.encode(batches[0])
    metrics = GatewayMetrics()
    dispatcher = RecordDispatcher([sink], queue_size=10 * count)
    out: dict = {
        "unit": "microseconds of CPU per record",
        "langfuse_encode": _best_us(lambda: [sink.encode(batch) for batch in batches], count),
        "gzip": _best_us(lambda: gzip.compress(body, 1), len(batches[0])),
        "metrics": _best_us(
            lambda: [metrics.request_finished(r, overhead_seconds(r)) for r in records], count
        ),
        "dispatch_submit": _best_us(lambda: [dispatcher.submit(r, (sink.name,)) for r in records], count),
        "export_bytes_per_record": round(len(body) / len(batches[0])),
        "export_gzip_bytes_per_record": round(len(gzip.compress(body, 1)) / len(batches[0])),
    }
    with tempfile.TemporaryDirectory(prefix="bench-observability-stages-") as work:
        out["ledger_note"], out["ledger_write"] = asyncio.run(_ledger(records, Path(work)))
        with fake_langfuse(Path(work) / "logs", LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY) as langfuse:
            lane = asyncio.run(_lane(langfuse.url, [chat_record(count + i, now) for i in range(count)]))
    out["langfuse_lane"] = lane["us"]
    out["langfuse_lane_delivered"] = lane["delivered"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.observability_stages", description=__doc__)
    parser.add_argument("--records", type=int, default=6000, help="records per stage (default 6000)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(max(BATCH, args.records)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
