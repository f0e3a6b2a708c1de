"""`python -m bench.spend_report [--rows 1000000] [--backend sqlite|postgresql|mysql|all] [--url URL]`

What /global/spend/report costs at a million ledger rows: generates `--rows` calls (30 days, 200 keys in 20
teams, 50 users, 8 models) through the store's own write path (`record`, batches of 500, as the ledger
sink writes), then times `spend_report` grouped by team, key, model and day over the 30 days (median of 5),
and, for comparison, the same team report summed from the raw ledger rows. Also prints the write rate and
the bytes per ledger row. PostgreSQL and MariaDB are throwaway servers started like the tests' (or --url).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from bedrock_proxy.control.location import store_for_url
from bedrock_proxy.control.migrations import Cursor
from bedrock_proxy.control.records import SpendEntry
from bedrock_proxy.control.sqlstore import SqlControlStore

DAYS = 30
START = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
END = START + DAYS * 86400 - 1
BATCH = 500
RUNS = 5
MODELS = ["claude-3-haiku", "claude-3-5-sonnet", "claude-sonnet-4-5", "titan-text-express", "nova-pro",
          "nova-lite", "llama3-70b", "titan-embed-text-v2"]  # fmt: skip


def calls(rows: int, seed: int = 13) -> Iterator[SpendEntry]:
    rng = random.Random(seed)
    keys = [(f"{n:064x}", f"team-{n % 20}", f"user-{n % 50}") for n in range(200)]
    step = (END - START) / rows
    for n in range(rows):
        key, team, user = keys[rng.randrange(len(keys))]
        when = START + n * step
        tokens = rng.randrange(50, 4000)
        model, cost = rng.choice(MODELS), tokens * 3e-6
        yield SpendEntry(
            f"req-{n:09d}", key, f"alias-{key[-4:]}", model, "anthropic.x", cost, tokens, tokens // 4,
            when - 1.5, when, team_id=team, user_id=user,
        )  # fmt: skip


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-spend-") as folder:
            yield f"sqlite:///{folder}/bench.db"
    elif backend == "postgresql":
        from tests.spend.postgres_server import postgres_server

        with postgres_server() as server:
            yield server.new_database()
    else:
        from tests.control.mariadb_server import mariadb_server

        with mariadb_server() as server:
            yield server.new_database()


def size_bytes(store: SqlControlStore, url: str) -> Callable[[Cursor], int]:
    name = store.d.name

    def read(cur: Cursor) -> int:
        if name == "sqlite":
            return os.path.getsize(url.split("///", 1)[1])
        if name == "postgresql":
            cur.execute("SELECT pg_database_size(current_database())")
        else:
            cur.execute(
                "SELECT SUM(data_length + index_length) FROM information_schema.tables"
                " WHERE table_schema = DATABASE()"
            )
        return int(cur.fetchone()[0])

    return read


async def timed(fn: Callable[[], Awaitable[object]], runs: int = RUNS) -> float:
    """Median milliseconds of `runs` calls (after one warm-up)."""
    await fn()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def measure(url: str, rows: int) -> dict[str, float]:
    store = store_for_url(url)
    await store.open()
    try:
        began = time.perf_counter()
        batch: list[SpendEntry] = []
        for entry in calls(rows):
            batch.append(entry)
            if len(batch) == BATCH:
                await store.record(batch)
                batch = []
        if batch:
            await store.record(batch)
        written = time.perf_counter() - began
        if store.d.name == "postgresql":
            await store.database.call(lambda cur: cur.execute("ANALYZE"))
        out = {"rows": float(rows), "write_rows_per_s": rows / written}
        for group in ("team", "key", "model", "day"):
            out[f"report_{group}_ms"] = await timed(
                functools.partial(store.spend_report, start=START, end=END, group_by=group)
            )
        out["report_day_team_model_ms"] = await timed(
            lambda: store.spend_report(start=START, end=END, group_by=["day", "team", "model"])
        )
        raw = store.d.sql(
            "SELECT team_id, SUM(spend), COUNT(*) FROM spend_logs WHERE end_time >= ? AND end_time <= ?"
            " GROUP BY team_id"
        )

        def raw_report(cur: Cursor) -> object:
            cur.execute(raw, (START, END))
            return cur.fetchall()

        async def raw_team_report() -> object:
            return await store.database.call(raw_report, write=False)

        out["raw_ledger_team_ms"] = await timed(raw_team_report)
        out["bytes_per_row"] = await store.database.call(size_bytes(store, url), write=False) / rows
        return out
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spend_report", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "mysql", "all"], default="sqlite")
    parser.add_argument("--url", help="an existing, empty database instead of a throwaway one")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql", "mysql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        if args.url:
            results = asyncio.run(measure(args.url, args.rows))
        else:
            with database(backend) as url:
                results = asyncio.run(measure(url, args.rows))
        print(backend, " ".join(f"{name}={value:.1f}" for name, value in results.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
