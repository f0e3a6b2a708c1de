"""Logging set-up: readable or JSON lines, a request id on every line, secrets never written.

The server sets `request_id_var` at the start of each request; a filter copies it onto every record, so
any module can log with the standard `logging` API and still be traceable to one request.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from typing import Any, TextIO

import orjson

from bedrock_proxy.observability.logwriter import BackgroundLineHandler

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

REDACTED = "[redacted]"

# Keys whose values are secrets, matched case-insensitively on the normalised key (dashes -> underscores).
_SECRET_KEY_PARTS = (
    "authorization",
    "api_key",
    "apikey",
    "secret",
    "password",
    "passwd",
    "token",
    "master_key",
    "cookie",
    "credential",
    "signature",
    "private_key",
)

# Secrets that can hide inside free text (a raw request body, an error message, a URL).
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + REDACTED),
    (re.compile(r"\bsk-lf-[A-Za-z0-9-]{4,}"), REDACTED),
    (re.compile(r"\bpk-lf-[A-Za-z0-9-]{4,}"), "pk-lf-" + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{4,}"), REDACTED),
    (re.compile(r"\b(AKIA|ASIA|AKID)[A-Z0-9]{8,}"), REDACTED),
    (re.compile(r"(?i)(Credential=)[^,\s]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(Signature=)[0-9a-f]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(X-Amz-Security-Token=|X-Amz-Signature=)[^&\s]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(x-amz-security-token:\s*)[^\s'\"]+"), r"\1" + REDACTED),
    (
        re.compile(
            r"(?i)((?:aws_)?secret_access_key|session_token|api_key|password)(\"?\s*[:=]\s*\"?)[^\"\s,}]+"
        ),
        r"\1\2" + REDACTED,
    ),
)


def _is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    if k in ("max_tokens", "tokens", "prompt_tokens", "completion_tokens", "total_tokens"):
        return False
    if k.endswith(("tokens", "count")) or k.startswith("max_token"):
        return False  # counts: inputTokens, cache_read_tokens, Titan's inputTextTokenCount
    return any(part in k for part in _SECRET_KEY_PARTS)


def redact_text(text: str) -> str:
    """`text` with the secrets it may hold (keys, tokens, passwords) replaced."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, strings) with secrets replaced, for log_raw_request_response."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _is_secret_key(k) and v not in (None, "") else redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, bytes):
        return redact(obj.decode("utf-8", "replace"))
    return obj


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (and redacts the rendered message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return redact_text(super().format(record))


_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, plus any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(redact(out), default=str).decode()


def level_from(*, set_verbose: bool = False, debug: bool = False, default: str = "INFO") -> str:
    """LiteLLM's knobs: `set_verbose` or `debug` mean DEBUG; LITELLM_LOG-style names pass through."""
    return "DEBUG" if (set_verbose or debug) else default


def configure_logging(
    *, json_logs: bool, level: str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root handlers with one that writes readable or JSON lines to stderr, from a thread of its
    own (logwriter.py: a stalled log reader must not stop the event loop)."""
    handler = BackgroundLineHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, BackgroundLineHandler):
            old.close()  # its lines written, its writer thread ended
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that log every connection at DEBUG drown the gateway's own lines.
    for noisy in ("aiohttp.access", "botocore", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
    return handler


raw_logger = logging.getLogger("bedrock_proxy.raw")


def log_raw(direction: str, payload: Any, *, enabled: bool) -> None:
    """log_raw_request_response: the raw body going to / coming from Bedrock, secrets removed."""
    if enabled and raw_logger.isEnabledFor(logging.INFO):
        raw_logger.info("%s %s", direction, orjson.dumps(redact(payload), default=str).decode())
