"""OTLP/HTTP trace encoding: span dicts in the OTLP JSON shape, protobuf when opentelemetry-proto is there.

OTLP JSON differs from the protobuf JSON mapping in one way that matters: trace and span ids are hex
strings, not base64. Ids given by clients (trace_id, generation_id, ...) are rarely valid 32/16-hex
values, and a single invalid id makes Langfuse reject the whole export, so they are hashed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import orjson

_HEX = re.compile(r"^[0-9a-f]+$")

SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_OK = 1
STATUS_ERROR = 2


def hex_id(value: str, length: int) -> str:
    """A valid OTLP id of `length` hex chars: the value itself when it already is one, else its hash."""
    v = value.strip().lower()
    if len(v) == length + 4 and length == 32 and v.count("-") == 4:
        v = v.replace("-", "")  # a UUID: keep its digits, users can find it again
    if len(v) == length and _HEX.match(v) and v.strip("0"):
        return v
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def ns(t: float) -> str:
    """Unix seconds to the OTLP JSON nanosecond string."""
    return str(int(t * 1_000_000_000))


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": orjson.dumps(value, default=str).decode()}


def attributes(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    # strings are most attributes: test for them first (this runs ~40 times per exported record)
    out = []
    for key, value in attrs.items():
        if value is None:
            continue
        if type(value) is str:
            out.append({"key": key, "value": {"stringValue": value}})
        else:
            out.append({"key": key, "value": any_value(value)})
    return out


def span(
    *,
    trace_id: str,
    span_id: str,
    name: str,
    start: float,
    end: float,
    attrs: dict[str, Any],
    parent_span_id: str | None = None,
    kind: int = SPAN_KIND_INTERNAL,
    error: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": ns(start),
        "endTimeUnixNano": ns(max(end, start)),
        "attributes": attributes(attrs),
        "status": {"code": STATUS_ERROR, "message": error} if error is not None else {"code": STATUS_OK},
    }
    if parent_span_id:
        out["parentSpanId"] = parent_span_id
    return out


def export_request(
    spans: list[dict[str, Any]], *, resource: dict[str, Any], scope: str, scope_version: str = ""
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(resource)},
                "scopeSpans": [{"scope": {"name": scope, "version": scope_version}, "spans": spans}],
            }
        ]
    }


def json_body(request: dict[str, Any]) -> bytes:
    return orjson.dumps(request)


def protobuf_available() -> bool:
    try:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401
    except ImportError:
        return False
    return True


def _hex_ids_to_base64(request: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(request))
    for rs in out["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if s.get(key):
                        s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    return out


def protobuf_body(request: dict[str, Any]) -> bytes:
    """The same export as protobuf; requires the opentelemetry-proto package."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    message = trace_service_pb2.ExportTraceServiceRequest()
    json_format.ParseDict(_hex_ids_to_base64(request), message)
    body: bytes = message.SerializeToString()  # protobuf's generated classes carry no types here
    return body
