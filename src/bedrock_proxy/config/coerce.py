"""Turn one YAML value into the type a setting needs, or report why it cannot be used.

Strings are accepted for numbers and booleans because `os.environ/VAR` always yields a string, and because
YAML 1.1 reads `3e-06` (no dot) as a string: a cost written that way must still work.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final

from bedrock_proxy.config.issues import IssueLog


class Invalid(Enum):
    """Marker: the value was reported as unusable; the setting keeps its default."""

    INVALID = "INVALID"

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = Invalid.INVALID

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def describe(value: Any) -> str:
    """A short description of a bad value for a message (never used for secret values)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return repr(value)


def suggest(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str:
    match = suggest(word, candidates, cutoff)
    return f" (did you mean '{match}'?)" if match else ""


def as_bool(value: Any, path: str, log: IssueLog) -> bool | Invalid:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    log.error(path, f"expected true or false, got {describe(value)}")
    return INVALID


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace("_", ""))
        except ValueError:
            return None
    return None


def as_number(
    value: Any,
    path: str,
    log: IssueLog,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    unit: str = "",
) -> float | Invalid:
    number = _number(value)
    if number is None or number != number:  # NaN
        log.error(path, f"expected a number{unit}, got {describe(value)}")
        return INVALID
    return _check_range(number, path, log, minimum, maximum, exclusive_minimum, unit)


def as_int(
    value: Any,
    path: str,
    log: IssueLog,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    exclusive_minimum: bool = False,
) -> int | Invalid:
    number = _number(value)
    if number is None or number != number or not number.is_integer():
        log.error(path, f"expected a whole number, got {describe(value)}")
        return INVALID
    checked = _check_range(number, path, log, minimum, maximum, exclusive_minimum, "")
    return INVALID if checked is INVALID else int(checked)


def _check_range(
    number: float,
    path: str,
    log: IssueLog,
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: bool,
    unit: str,
) -> float | Invalid:
    shown = int(number) if number.is_integer() else number
    if minimum is not None and (number <= minimum if exclusive_minimum else number < minimum):
        bound = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
        log.error(path, f"must be {bound}{unit}, got {shown}")
        return INVALID
    if maximum is not None and number > maximum:
        log.error(path, f"must be at most {maximum:g}{unit}, got {shown}")
        return INVALID
    return number


def as_str(
    value: Any, path: str, log: IssueLog, *, secret: bool = False, allow_empty: bool = False
) -> str | Invalid:
    if isinstance(value, str):
        if not value.strip() and not allow_empty:
            log.error(path, "is empty")
            return INVALID
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML read `model_name: 3.5` or a numeric key as a number
    shown = "a value that is not text" if secret else describe(value)
    log.error(path, f"expected text, got {shown}")
    return INVALID


def as_str_list(value: Any, path: str, log: IssueLog) -> list[str] | Invalid:
    """A list of names; a single string is read as a one-element list."""
    if value is None:
        return []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        log.error(path, f"expected a list of names, got {describe(value)}")
        return INVALID
    names: list[str] = []
    for index, item in enumerate(value):
        name = as_str(item, f"{path}[{index}]", log)
        if name is not INVALID:
            names.append(name)
    return names


def as_mapping(value: Any, path: str, log: IssueLog, *, what: str = "a mapping") -> dict[Any, Any] | Invalid:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    log.error(path, f"expected {what}, got {describe(value)}")
    return INVALID
