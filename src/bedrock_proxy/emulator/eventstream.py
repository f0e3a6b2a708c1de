"""AWS event-stream encoder: the binary framing botocore's EventStreamBuffer decodes (both CRCs checked).

botocore ships only a decoder, so the emulator writes frames itself. Header blocks for the event types are
built once; encoding a frame is two struct packs and two crc32 calls.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from zlib import crc32

_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")


def _string_header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


@lru_cache(maxsize=64)
def event_headers(event_type: str) -> bytes:
    """Header block of a normal event (`:message-type` event)."""
    return (
        _string_header(":event-type", event_type)
        + _string_header(":content-type", "application/json")
        + _string_header(":message-type", "event")
    )


@lru_cache(maxsize=32)
def exception_headers(exception_type: str) -> bytes:
    """Header block of a modelled mid-stream exception (`:message-type` exception)."""
    return (
        _string_header(":exception-type", exception_type)
        + _string_header(":content-type", "application/json")
        + _string_header(":message-type", "exception")
    )


def frame(headers: bytes, payload: bytes) -> bytes:
    """One message: prelude (lengths + CRC), headers, payload, CRC of everything before it."""
    total = 16 + len(headers) + len(payload)
    prelude = _PRELUDE.pack(total, len(headers))
    head = prelude + _U32.pack(crc32(prelude)) + headers + payload
    return head + _U32.pack(crc32(head))


def encode_event(event_type: str, payload: bytes) -> bytes:
    return frame(event_headers(event_type), payload)


def encode_exception(exception_type: str, payload: bytes) -> bytes:
    return frame(exception_headers(exception_type), payload)
