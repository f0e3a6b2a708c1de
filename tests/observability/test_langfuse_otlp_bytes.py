"""The Langfuse OTLP export is byte for byte what main sent before its encoder was rewritten for speed: every
span, attribute, id and value of a table of records covering each branch of the mapping."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from bedrock_proxy.observability.langfuse import LangfuseOtlpSink
from tests.observability.otlp_cases import GOLDEN, cases

PINNED: dict[str, str] = orjson.loads((Path(__file__).parent / GOLDEN).read_bytes())


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_export_body_is_the_pinned_one(name: str) -> None:
    records, options = cases()[name]
    sink = LangfuseOtlpSink("http://langfuse.test", "pk", "sk", options=options)
    body = sink.encode(records)
    assert orjson.loads(body) == orjson.loads(PINNED[name])  # a readable diff first
    assert body == PINNED[name].encode()


@pytest.mark.parametrize("count", [1, 6, 9, 10, 11, 25])  # around the slices encoded between two yields
async def test_send_batch_posts_the_same_body_gzipped(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    pinned, options = cases()["existing trace, masks, embedding, cache hit"]  # 6 records
    records = (pinned * 5)[:count]
    sink = LangfuseOtlpSink("http://langfuse.test", "pk", "sk", options=options)
    posted: list[bytes] = []

    async def post(
        url: str, body: bytes, headers: dict[str, str], *, gzipped: bool = False
    ) -> tuple[int, bytes]:
        assert gzipped
        posted.append(gzip.decompress(body))
        return 200, b"{}"

    monkeypatch.setattr(sink, "post", post)
    await sink.send_batch(records)
    assert posted == [sink.encode(records)]
    if records == pinned:
        assert posted == [PINNED["existing trace, masks, embedding, cache hit"].encode()]
