"""What the loader found wrong or surprising in a config, each tied to the exact key that caused it.

Every problem is collected rather than raised on the first one, so `check-config` can show the user the
whole list at once: they fix everything in one edit instead of one restart per mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One finding: `path` names the key as written (`model_list[3].litellm_params.temperature`)."""

    level: Level
    path: str
    message: str
    line: int | None = None  # 1-based line in the YAML file, when known

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.level:<7} {self.path}{where}: {self.message}"


class ConfigError(ValueError):
    """The config has at least one error-level issue; `.issues` holds all of them, warnings included."""

    def __init__(self, issues: Iterable[ConfigIssue], source: str = "<string>") -> None:
        self.issues = list(issues)
        self.source = source
        errors = [issue for issue in self.issues if issue.level == "error"]
        lines = "\n".join(str(issue) for issue in errors)
        super().__init__(f"{source}: {len(errors)} configuration error(s)\n{lines}")


def parent_path(path: str) -> str | None:
    """`a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None."""
    if path.endswith("]"):
        return path[: path.rindex("[")] or None
    if "." in path:
        return path[: path.rindex(".")]
    return None


def child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class IssueLog:
    """Collects issues; attaches YAML line numbers; hides follow-up noise under an already reported path."""

    def __init__(self, lines: Mapping[str, int] | None = None) -> None:
        self.issues: list[ConfigIssue] = []
        self._lines = lines or {}
        self._suppressed: set[str] = set()

    def error(self, path: str, message: str) -> None:
        self._add("error", path, message)

    def warning(self, path: str, message: str) -> None:
        self._add("warning", path, message)

    def suppress(self, path: str) -> None:
        """Report nothing more at `path` or under it (its value was already reported as unusable)."""
        self._suppressed.add(path)

    def has_errors(self) -> bool:
        return any(issue.level == "error" for issue in self.issues)

    def _add(self, level: Level, path: str, message: str) -> None:
        probe: str | None = path
        while probe is not None:
            if probe in self._suppressed:
                return
            probe = parent_path(probe)
        self.issues.append(ConfigIssue(level, path, message, self._line(path)))

    def _line(self, path: str) -> int | None:
        probe: str | None = path
        while probe is not None:
            if probe in self._lines:
                return self._lines[probe]
            probe = parent_path(probe)
        return None
