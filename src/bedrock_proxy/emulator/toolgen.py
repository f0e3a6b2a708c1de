"""Tool calls a gateway can trust: which tools the prompt asks for, and arguments valid for their schema.

Selection: `tool` choice -> that tool; otherwise every tool a word of whose name or description appears in
the prompt (several -> parallel calls); `any` with no match -> the first tool. Arguments are built from the
tool's JSON schema (types, required, enums, nested objects and arrays, bounds), with strings taken from the
prompt where it names something ("Paris" in "météo à Paris").
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_ABSOLUTE_PATH = re.compile(r"(?<![\w/])/[\w.-]+(?:/[\w.-]+)+")
_STOPWORDS = frozenset(
    {
        *("the", "and", "for", "with", "from", "that", "this", "what", "when", "where", "which", "your"),
        *("about", "into", "have", "tool", "tools", "function", "get", "set", "list", "make", "find", "call"),
        *("use", "using", "give", "show", "tell", "une", "des", "les", "pour", "avec", "dans", "quel"),
        *("quelle", "quels", "est", "sur"),
    }
)
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fold(text: str) -> str:
    """Lower case without accents, so "Météo" matches "meteo"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _keywords(text: str) -> set[str]:
    words = re.split(r"[^a-z0-9]+", fold(text))
    return {word for word in words if len(word) >= 4 and word not in _STOPWORDS}


def select_tools(
    tools: list[dict[str, Any]], prompt: str, choice: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The toolSpecs the emulated model calls for this prompt (empty: answer with text)."""
    specs = [tool["toolSpec"] for tool in tools if isinstance(tool, dict) and "toolSpec" in tool]
    if not specs:
        return []
    choice = choice or {"auto": {}}
    if "tool" in choice:
        wanted = choice["tool"].get("name")
        return [spec for spec in specs if spec.get("name") == wanted][:1]
    prompt_words = set(re.split(r"[^a-z0-9]+", fold(prompt)))
    matched = [
        spec
        for spec in specs
        if _keywords(spec.get("name", "").replace("_", " ") + " " + spec.get("description", ""))
        & prompt_words
    ]
    if not matched and "any" in choice:
        return specs[:1]
    return matched


def tool_use_id(seed: str, index: int) -> str:
    """`tooluse_` + 22 characters, stable for the same prompt and position."""
    value = int.from_bytes(hashlib.blake2b(f"{index}:{seed}".encode(), digest_size=17).digest(), "big")
    chars = []
    for _ in range(22):
        value, rest = divmod(value, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[rest])
    return "tooluse_" + "".join(chars)


class _Prompt:
    """What the argument builder can take from the prompt: named things, numbers, words."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.numbers = [float(n) for n in _NUMBER.findall(text)]
        words = _WORD.findall(text)
        starts = {0} | {m.end() for m in re.finditer(r"[.!?]\s+", text)}
        names, position = [], 0
        for word in words:
            position = text.find(word, position)
            if word[:1].isupper() and position not in starts and not word.isupper():
                names.append(word.strip("'-"))
            position += len(word)
        significant = [w for w in words if len(w) >= 3 and fold(w) not in _STOPWORDS and not w.isdigit()]
        self.entity = names[0] if names else (significant[-1] if significant else "example")
        paths = _ABSOLUTE_PATH.findall(text)
        self.path = paths[0] if paths else None


def build_arguments(schema: dict[str, Any], prompt: str, required_only: bool = False) -> dict[str, Any]:
    """A value for the tool's input schema (an object), valid against it; `required_only`: only the
    properties the schema requires (a call a marker forced gives the tool no optional settings)."""
    if required_only and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        schema = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k in required}}
    value = _value(schema or {"type": "object"}, _Prompt(prompt), schema or {}, "input", 0)
    return value if isinstance(value, dict) else {"value": value}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return target if isinstance(target, dict) else {}
    return schema


def _value(schema: dict[str, Any], prompt: _Prompt, root: dict[str, Any], name: str, depth: int) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        folded = fold(prompt.text)
        for option in schema["enum"]:
            if isinstance(option, str) and fold(option) in folded:
                return option
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            non_null = [o for o in options if _resolve(o, root).get("type") != "null"] or options
            if combinator == "allOf":
                merged: dict[str, Any] = {}
                for option in options:
                    merged.update(_resolve(option, root))
                return _value(merged, prompt, root, name, depth)
            return _value(non_null[0], prompt, root, name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        if depth > 8:
            return {}
        properties = schema.get("properties") or {}
        return {
            key: _value(sub if isinstance(sub, dict) else {}, prompt, root, key, depth + 1)
            for key, sub in properties.items()
        }
    if kind == "array":
        declared = schema.get("items")
        items: dict[str, Any] = declared if isinstance(declared, dict) else {"type": "string"}
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        return [_value(items, prompt, root, name, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, prompt, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, prompt, name)


def _number(schema: dict[str, Any], prompt: _Prompt, integer: bool) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(schema.get("exclusiveMinimum"), bool):  # draft-4 style flags
        low = schema.get("minimum")
    candidates = [*prompt.numbers, 1]
    for number in candidates:
        value = int(number) if integer else number
        if _within(value, schema):
            return value
    value = low if low is not None else high if high is not None else 1
    value = int(value) if integer else float(value)
    step = 1 if integer else 0.5
    while not _within(value, schema) and low is not None:
        value += step
    return value


def _within(value: float, schema: dict[str, Any]) -> bool:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    ex_min, ex_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if minimum is not None and value < minimum:
        return False
    if maximum is not None and value > maximum:
        return False
    if isinstance(ex_min, int | float) and not isinstance(ex_min, bool) and value <= ex_min:
        return False
    return not (isinstance(ex_max, int | float) and not isinstance(ex_max, bool) and value >= ex_max)


def _string(schema: dict[str, Any], prompt: _Prompt, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        value = "2024-01-01"
    elif fmt == "date-time":
        value = "2024-01-01T00:00:00Z"
    elif fmt == "email":
        value = "user@example.com"
    elif fmt in ("uri", "url"):
        value = "https://example.com/"
    elif prompt.path is not None and fold(name).endswith(("path", "file")):
        value = prompt.path  # "read /tmp/x/notes.txt": the file a path argument names
    else:
        value = prompt.entity
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    if len(value) < low:
        value = value + "x" * (low - len(value))
    if high is not None:
        value = value[: int(high)]
    return value
