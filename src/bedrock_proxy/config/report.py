"""The human report of a config's issues: one line per issue, errors first, then a one-line summary."""

from __future__ import annotations

from collections.abc import Iterable

from bedrock_proxy.config.issues import ConfigIssue
from bedrock_proxy.config.schema import Config


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def in_report_order(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    """Errors then warnings, each in file order (issues without a line last): how every report lists them."""
    return sorted(issues, key=lambda issue: (issue.level != "error", issue.line or 1_000_000_000))


def format_report(config_or_issues: Config | Iterable[ConfigIssue]) -> str:
    """Errors then warnings, each in file order, as `level path (line N): message`; then a summary."""
    issues = config_or_issues.issues if isinstance(config_or_issues, Config) else config_or_issues
    lines = [str(issue) for issue in in_report_order(issues)]
    if isinstance(config_or_issues, Config):
        lines.append(summary(config_or_issues))
    return "\n".join(lines)


def summary(config: Config) -> str:
    errors = sum(1 for issue in config.issues if issue.level == "error")
    warnings = len(config.issues) - errors
    deployments = _plural(len(config.deployments), "deployment")
    groups = _plural(len(config.groups()), "model group")
    return f"{deployments} in {groups}; {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
