"""Per-request control of the emulator: which fault to inject and how slowly to answer.

Three equivalent carriers, because a gateway in front does not forward custom headers: the `x-emulator`
header, a `/_emu/<spec>/` path prefix, and a `[[emu:<spec>]]` marker in the last user message. A spec is
`key=value` pairs separated by commas, e.g. `fault=stream-error,after=3,error=throttling`; `tool=NAME` makes
the model call that one tool (if the request declares it) with the arguments its schema requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import unquote

from bedrock_proxy.emulator.errors import ERROR_FAULTS, STREAM_ERRORS, validation

BEHAVIOUR_FAULTS = ("reset", "timeout", "slow", "stream-error", "guardrail", "content-filtered")
FAULTS = (*ERROR_FAULTS.keys() - {"model-stream-error"}, *BEHAVIOUR_FAULTS)
MARKER = re.compile(r"\[\[emu:([^\]]*)\]\]")
MARKER_TEXT = "[[emu:"


@dataclass(frozen=True, slots=True)
class Controls:
    """What one request asked of the emulator; None means "use the server's default"."""

    fault: str | None = None
    after: int | None = None  # stream-error: deltas sent before the error
    error: str | None = None  # stream-error: which exception ends the stream
    ttft: float | None = None
    gap: float | None = None
    latency: float | None = None
    words: int | None = None
    tool: str | None = None

    def merged(self, other: Controls) -> Controls:
        """`other`'s explicit settings win over ours."""
        changes = {
            name: getattr(other, name)
            for name in ("fault", "after", "error", "ttft", "gap", "latency", "words", "tool")
            if getattr(other, name) is not None
        }
        return replace(self, **changes) if changes else self


NO_CONTROLS = Controls()


def parse(spec: str) -> Controls:
    """`fault=throttling,ttft=0.05` -> Controls; an unknown key or fault is a 400, never a silent no-op."""
    values: dict[str, object] = {}
    for item in unquote(spec).replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            key, value = "fault", key  # a bare name is a fault
        try:
            if key == "fault":
                if value not in FAULTS:
                    raise validation(f"Unknown emulator fault '{value}'. Known faults: {', '.join(FAULTS)}.")
                values["fault"] = value
            elif key == "error":
                if value not in STREAM_ERRORS:
                    raise validation(f"Unknown stream error '{value}'. Known: {', '.join(STREAM_ERRORS)}.")
                values["error"] = value
            elif key == "after":
                values["after"] = max(0, int(value))
            elif key in ("ttft", "gap", "latency"):
                values[key] = max(0.0, float(value))
            elif key in ("text", "words"):
                values["words"] = max(1, int(value))
            elif key == "tool":
                values["tool"] = value
            else:
                raise validation(f"Unknown emulator control '{key}'.")
        except ValueError as exc:
            raise validation(f"Bad emulator control '{item}': {exc}.") from exc
    return Controls(**values)  # type: ignore[arg-type]


def split_prefix(path: str) -> tuple[str, str | None]:
    """`/_emu/fault=throttling/model/x/converse` -> (`/model/x/converse`, `fault=throttling`)."""
    if not path.startswith("/_emu/"):
        return path, None
    spec, _, rest = path[6:].partition("/")
    return "/" + rest, spec


def take_marker(text: str) -> tuple[str, str | None]:
    """Remove `[[emu:...]]` markers from a prompt text; return the cleaned text and the joined specs."""
    specs = MARKER.findall(text)
    if not specs:
        return text, None
    return MARKER.sub("", text).strip(), ",".join(specs)
