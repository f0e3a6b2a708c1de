"""How deeply a JSON value nests: bounded, so a hostile body cannot exhaust the recursion limit of the code
that walks or re-serialises it (orjson writes at most 254 levels; Python's recursion limit is about 1000).

Every client API checks its bodies with `nesting_beyond` before anything else walks them.
"""

from __future__ import annotations

MAX_JSON_DEPTH = 64  # general_settings.max_json_depth: far above any real tool schema (10-20 levels)
PARAM_SEGMENTS = 4  # a path is named by its first segments: tools[0].function.parameters


def nesting_beyond(value: object, limit: int) -> list[str | int] | None:
    """The path to the first array or object nested more than `limit` levels deep, or None.

    Iterative, so the check itself can never hit the recursion limit whatever the depth.
    """
    stack: list[tuple[object, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            children: list[tuple[str | int, object]] = [(str(key), child) for key, child in item.items()]
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        if len(path) >= limit:
            return path
        for key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, [*path, key]))
    return None


def dotted(path: list[str | int], segments: int = PARAM_SEGMENTS) -> str:
    """`['tools', 0, 'function', 'parameters']` -> `tools[0].function.parameters` (its first `segments`)."""
    text = ""
    for part in path[:segments]:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def depth_message(param: str, limit: int) -> str:
    return (
        f"'{param}' nests deeper than {limit} levels of arrays and objects, the gateway's limit"
        f" (general_settings.max_json_depth): flatten it."
    )
