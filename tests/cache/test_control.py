"""Per-request cache controls, in the request body and the Cache-Control header."""

from __future__ import annotations

import pytest

from bedrock_proxy.cache import CacheControl, cache_control
from bedrock_proxy.errors import GatewayError

CASES = [
    ("nothing asked", {}, None, CacheControl()),
    ("body no-cache", {"cache": {"no-cache": True}}, None, CacheControl(read=False)),
    ("body no-store", {"cache": {"no-store": True}}, None, CacheControl(write=False)),
    ("body ttl", {"cache": {"ttl": 60}}, None, CacheControl(ttl=60.0)),
    ("body s-maxage", {"cache": {"s-maxage": 30}}, None, CacheControl(max_age=30.0)),
    ("header no-cache", {}, "no-cache", CacheControl(read=False)),
    ("header no-store, any case", {}, "No-Store", CacheControl(write=False)),
    ("header both", {}, "no-cache, no-store", CacheControl(read=False, write=False)),
    ("header max-age", {}, "max-age=5", CacheControl(max_age=5.0)),
]


@pytest.mark.parametrize(("case", "body", "header", "expected"), CASES, ids=[c[0] for c in CASES])
def test_cache_controls_are_read_from_body_and_header(
    case: str, body: dict, header: str | None, expected: CacheControl
) -> None:
    assert cache_control(body, header) == expected


BAD = [
    ("cache not an object", {"cache": True}, "cache"),
    ("no-cache not a boolean", {"cache": {"no-cache": "yes"}}, "cache.no-cache"),
    ("ttl not a number", {"cache": {"ttl": "1h"}}, "cache.ttl"),
    ("ttl negative", {"cache": {"ttl": -1}}, "cache.ttl"),
]


@pytest.mark.parametrize(("case", "body", "param"), BAD, ids=[c[0] for c in BAD])
def test_a_malformed_cache_object_is_a_400_naming_the_field(case: str, body: dict, param: str) -> None:
    with pytest.raises(GatewayError) as caught:
        cache_control(body, None)
    assert caught.value.status == 400
    assert caught.value.param == param
