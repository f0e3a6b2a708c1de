"""OTLP JSON written straight to bytes: the same bytes `orjson.dumps` gives for otlp.py's span dicts, without
building those dicts.

An exported record is ~60 attributes, each two nested dicts in otlp.py's shape. Building them cost more
than anything else the gateway does per record (tens of microseconds, plus the garbage collections their
allocation triggers). Here an attribute is one bytes concatenation: a cached prefix for its key, the value
encoded by orjson; bytes are not tracked by the garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import orjson

from bedrock_proxy.observability import otlp

_PREFIXES: dict[str, bytes] = {}  # attribute key -> b'{"key":"<key>","value":'
_STRING_PREFIXES: dict[str, bytes] = {}  # attribute key -> b'{"key":"<key>","value":{"stringValue":'
_MAX_CACHED_KEYS = 4096  # keys from clients' metadata are unbounded: past this, encoded each time
STATUS_OK = b'{"code":%d}' % otlp.STATUS_OK
K = TypeVar("K", bound=Hashable)
_dumps = orjson.dumps


def _prefix(key: str) -> bytes:
    prefix = _PREFIXES.get(key)
    if prefix is None:
        prefix = b'{"key":' + _dumps(key) + b',"value":'
        if len(_PREFIXES) < _MAX_CACHED_KEYS:
            _PREFIXES[key] = prefix
            _STRING_PREFIXES[key] = prefix + b'{"stringValue":'
    return prefix


def _string_prefix(key: str) -> bytes:
    return _STRING_PREFIXES.get(key) or _prefix(key) + b'{"stringValue":'


def attribute(key: str, value: Any) -> bytes:
    """One KeyValue (value not None), as otlp.attributes would write it."""
    kind = type(value)
    if kind is str:
        return _string_prefix(key) + _dumps(value) + b"}}"
    if kind is int:
        return _prefix(key) + b'{"intValue":"%d"}}' % value
    return _prefix(key) + _dumps(otlp.any_value(value)) + b"}"


def quoted(json_text: bytes) -> bytes:
    """orjson.dumps(json_text.decode()) for JSON that orjson wrote (no raw control characters in it)."""
    return b'"' + json_text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def string_attribute(key: str, encoded: bytes) -> bytes:
    """A string attribute whose value is already JSON-encoded (one value shared by several attributes)."""
    return _string_prefix(key) + encoded + b"}}"


class Attributes:
    """The attribute list of one span, written in order; None values are left out, as otlp.attributes does."""

    __slots__ = ("parts",)

    def __init__(self, *shared: bytes) -> None:
        self.parts: list[bytes] = [part for part in shared if part]

    def add(self, key: str, value: Any) -> None:
        if value is None:
            return
        if type(value) is str:  # most attributes: written here, without a further call
            prefix = _STRING_PREFIXES.get(key) or _string_prefix(key)
            self.parts.append(prefix + _dumps(value) + b"}}")
        else:
            self.parts.append(attribute(key, value))

    def add_encoded(self, key: str, encoded: bytes | None) -> None:
        if encoded is not None:
            prefix = _STRING_PREFIXES.get(key) or _string_prefix(key)
            self.parts.append(prefix + encoded + b"}}")

    def splice(self, encoded: bytes) -> None:
        """Attributes already encoded (comma-separated), e.g. from a Memo."""
        if encoded:
            self.parts.append(encoded)

    def joined(self) -> bytes:
        return b",".join(self.parts)


class Memo:
    """Encoded attributes of values that repeat from call to call (a deployment's model id, region...), kept
    for up to `limit` distinct keys: values that come from clients cannot grow it without bound."""

    __slots__ = ("encoded", "limit")

    def __init__(self, limit: int = 1024) -> None:
        self.encoded: dict[Any, bytes] = {}
        self.limit = limit

    def get(self, key: K, encode: Callable[[K], bytes]) -> bytes:
        encoded = self.encoded.get(key)
        if encoded is None:
            encoded = encode(key)
            if len(self.encoded) < self.limit:
                self.encoded[key] = encoded
        return encoded


def span(
    *,
    trace_id: str,
    span_id: str,
    name: str,
    start: float,
    end: float,
    attributes: bytes,
    parent_span_id: str | None = None,
    kind: int = otlp.SPAN_KIND_INTERNAL,
    error: str | None = None,
) -> bytes:
    """One span, key for key as otlp.span (ids are hex strings: nothing to escape)."""
    status = (
        b'{"code":%d,"message":%b}' % (otlp.STATUS_ERROR, orjson.dumps(error))
        if error is not None
        else STATUS_OK
    )
    parent = b',"parentSpanId":"%b"' % parent_span_id.encode() if parent_span_id else b""
    return (
        b'{"traceId":"%b","spanId":"%b","name":%b,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",'
        b'"attributes":[%b],"status":%b%b}'
        % (
            trace_id.encode(),
            span_id.encode(),
            orjson.dumps(name),
            kind,
            int(start * 1_000_000_000),
            int(max(end, start) * 1_000_000_000),
            attributes,
            status,
            parent,
        )
    )


class ExportFrame:
    """The request around the spans (resource, scope), encoded once: a body is frame + spans + its end."""

    __slots__ = ("head", "tail")

    def __init__(self, *, resource: dict[str, Any], scope: str, scope_version: str = "") -> None:
        empty = otlp.json_body(
            otlp.export_request([], resource=resource, scope=scope, scope_version=scope_version)
        )
        self.head, self.tail = empty.split(b'"spans":[]', 1)
        self.head += b'"spans":['
        self.tail = b"]" + self.tail

    def body(self, spans: list[bytes]) -> bytes:
        return self.head + b",".join(spans) + self.tail
