"""bench/spend_report.py keeps working: a small run on SQLite measures every report, and the report it
times returns what the generated ledger holds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.spend_report import END, START, calls, measure

from bedrock_proxy.control.location import store_for_url


def test_the_spend_report_bench_measures_every_report_on_a_small_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bench.db"
    results = asyncio.run(measure(url, 3000))
    assert results["rows"] == 3000 and results["write_rows_per_s"] > 0
    for name in ("team", "key", "model", "day", "day_team_model"):
        assert results[f"report_{name}_ms"] > 0, name
    assert results["raw_ledger_team_ms"] > 0 and results["bytes_per_row"] > 0

    async def by_team() -> list[dict[str, object]]:
        store = store_for_url(url)
        await store.open()
        try:
            return await store.spend_report(start=START, end=END, group_by="team")
        finally:
            await store.close()

    rows = asyncio.run(by_team())
    assert len(rows) == 20 and sum(int(str(row["requests"])) for row in rows) == 3000
    assert round(sum(float(str(row["spend"])) for row in rows), 9) == round(
        sum(c.spend for c in calls(3000)), 9
    )
