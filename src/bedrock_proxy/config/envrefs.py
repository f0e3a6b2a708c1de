"""Resolve LiteLLM's `os.environ/VAR` string values from the environment, naming every unset VAR.

An unset variable is an error at the key that uses it, so the user learns both what to export and why;
the key is then treated as absent so no second, confusing error is reported for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedrock_proxy.config.issues import IssueLog, child

PREFIX = "os.environ/"


def resolve_env_refs(
    value: Any,
    path: str,
    environ: Mapping[str, str],
    log: IssueLog,
    sources: dict[str, str] | None = None,
) -> Any:
    """A copy of `value` with every `os.environ/VAR` string replaced by VAR's value (None when unset).

    `sources`, when given, records path -> VAR for each resolved reference, so that a later check of the
    value (an empty master key) can name the variable to fix rather than the YAML key.
    """
    if isinstance(value, str):
        if not value.startswith(PREFIX):
            return value
        name = value[len(PREFIX) :].strip()
        if not name:
            log.error(path, f"'{value}' names no variable: write os.environ/NAME")
            log.suppress(path)
            return None
        if name not in environ:
            hint = ' (a new key: echo "sk-$(openssl rand -hex 16)")' if path.endswith("master_key") else ""
            log.error(
                path,
                f"environment variable {name} is not set (used here as os.environ/{name}); "
                f"export {name} or add it to .env / environment_variables{hint}",
            )
            log.suppress(path)
            return None
        if sources is not None:
            sources[path] = name
        return environ[name]
    if isinstance(value, dict):
        return {
            key: resolve_env_refs(item, child(path, key), environ, log, sources)
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = [
            resolve_env_refs(item, child(path, index), environ, log, sources)
            for index, item in enumerate(value)
        ]
        if any(item is None and isinstance(raw, str) for item, raw in zip(items, value, strict=True)):
            log.suppress(path)  # the list has a hole already reported: say nothing more about the list
        return items
    return value
