"""The OTLP JSON writer's pieces write what orjson writes for the same values in otlp.py's shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bedrock_proxy.observability import otlp
from bedrock_proxy.observability.otlp_json import Attributes, Memo, attribute, quoted


@pytest.mark.parametrize(
    "value",
    [
        {"content": 'a "quoted" \\ back\\slash\nnew line\ttab \u0001 \u00e9 \u2603 \u2028 /'},
        [{"role": "user", "content": "Bonjour"}, None, True, 0.000171, 2.5e-7, -3],
        {},
        "",
    ],
)
def test_quoted_json_is_the_json_string_orjson_writes(value: Any) -> None:
    text = orjson.dumps(value)
    assert quoted(text) == orjson.dumps(text.decode())


@pytest.mark.parametrize(
    "value", ["text", "", 'q"\\\n\u2603', 0, 12, -1, 2**40, True, False, 0.5, ["a", "b"], ("x",), {"k": 1}]
)
def test_an_attribute_is_the_one_otlp_attributes_writes(value: Any) -> None:
    expected = otlp.attributes({"langfuse.observation.metadata.x": value})
    assert orjson.loads(b"[" + attribute("langfuse.observation.metadata.x", value) + b"]") == expected
    attrs = Attributes()
    attrs.add("langfuse.observation.metadata.x", value)
    attrs.add("left.out", None)
    assert b"[" + attrs.joined() + b"]" == orjson.dumps(expected)


def test_a_full_memo_still_encodes_new_keys_without_keeping_them() -> None:
    memo = Memo(limit=2)
    calls: list[str] = []

    def encode(key: str) -> bytes:
        calls.append(key)
        return attribute("k", key)

    assert [memo.get(key, encode) for key in ("a", "b", "c", "a", "c")] == [
        attribute("k", key) for key in ("a", "b", "c", "a", "c")
    ]
    assert calls == ["a", "b", "c", "c"]  # a and b kept; c, past the limit, encoded each time
    assert len(memo.encoded) == 2
