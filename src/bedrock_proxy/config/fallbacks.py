"""Read fallback lists in both shapes people write, into one `{model_name: [fallback, ...]}` table.

The seed writes `[{model: X, fallback: Y}]` (LiteLLM fails to start on it); LiteLLM reads `[{X: [Y, Z]}]`.
Both mean the same thing, so both are accepted without a warning and merged in file order.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.config.coerce import INVALID, Invalid, as_str, describe
from bedrock_proxy.config.issues import IssueLog, child
from bedrock_proxy.config.refs import NameRef

_SEED_TARGET_KEYS = ("fallback", "fallbacks")
_SHAPES = "write [{model: X, fallback: Y}] or [{X: [Y, Z]}]"
_Names = list[tuple[str, str]]  # (model name, where it was read)


def parse_fallbacks(
    value: Any, path: str, log: IssueLog, refs: list[NameRef]
) -> dict[str, list[str]] | Invalid:
    """The normalised table; every model name read is appended to `refs` for the existence check."""
    if value is None:
        return {}
    if isinstance(value, dict):  # one bare map {X: [Y]}: lenient, same meaning
        value = [value]
    if not isinstance(value, list):
        log.error(path, f"expected a list of fallbacks, got {describe(value)}; {_SHAPES}")
        return INVALID
    table: dict[str, list[str]] = {}
    table_name = path.rsplit(".", 1)[-1]
    for index, item in enumerate(value):
        item_path = child(path, index)
        if not isinstance(item, dict) or not item:
            log.error(item_path, f"expected a mapping, got {describe(item)}; {_SHAPES}")
            continue
        if "model" in item:
            pairs = _seed_shape(item, item_path, log)
        else:
            pairs = [
                (key, _names(targets, child(item_path, key), log), child(item_path, key))
                for key, targets in item.items()
            ]
        for source, targets, source_path in pairs:
            name = as_str(source, source_path, log)
            if name is INVALID or targets is INVALID:
                continue
            refs.append(NameRef(source_path, name, "fallback source"))
            for target, target_path in targets:
                refs.append(NameRef(target_path, target, "fallback target", source=name, table=table_name))
            merged = table.setdefault(name, [])
            merged.extend(target for target, _ in targets if target not in merged)
    return table


def _seed_shape(item: dict[Any, Any], path: str, log: IssueLog) -> list[tuple[Any, _Names | Invalid, str]]:
    present = [key for key in _SEED_TARGET_KEYS if key in item]
    for key in item:
        if key != "model" and key not in _SEED_TARGET_KEYS:
            log.warning(
                child(path, key), "unknown key in a fallback entry, ignored; expected model and fallback"
            )
    if not present:
        log.error(path, f"names model {item['model']!r} but no fallback: add `fallback: <model_name>`")
        return []
    key = present[0]
    return [(item["model"], _names(item[key], child(path, key), log), child(path, "model"))]


def _names(value: Any, path: str, log: IssueLog) -> _Names | Invalid:
    """[(name, path)] from one name or a list of names."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        items = [(value, path)]
    elif isinstance(value, list) and value:
        items = [(name, child(path, index)) for index, name in enumerate(value)]
    else:
        log.error(path, f"expected a model name or a list of model names, got {describe(value)}")
        return INVALID
    names = [(as_str(name, name_path, log), name_path) for name, name_path in items]
    return [(name, name_path) for name, name_path in names if name is not INVALID]
