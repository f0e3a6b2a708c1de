"""What `serve` says about its config before it starts: the readable report, or, with json_logs, one JSON
log record per issue, so that every line a JSON-logging gateway writes is JSON from the first one."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from bedrock_proxy.config import Config, format_report, inspect_config, load_config, load_or_report

logger = logging.getLogger("bedrock_proxy.config")


def load_for_serving(path: str, configure_logging: Callable[[Config], None]) -> Config | None:
    """The config with its issues reported, or None after reporting its errors. Logging is configured
    from the file first (even a file with errors says whether it wants JSON)."""
    inspected = inspect_config(path)
    configure_logging(inspected)
    if not inspected.settings.json_logs:
        config = load_or_report(path, "bedrock-proxy", "fix them and start again.")
        if config is not None and config.issues:
            print(format_report(config.issues), file=sys.stderr)
        return config
    ordered = sorted(
        inspected.issues, key=lambda issue: (issue.level != "error", issue.line or 1_000_000_000)
    )
    for issue in ordered:
        logger.log(
            logging.ERROR if issue.level == "error" else logging.WARNING,
            "%s: %s",
            issue.path,
            issue.message,
            extra={"config_key": issue.path, "config_line": issue.line},
        )
    if inspected.errors:
        logger.error("%s has errors; fix them and start again.", path)
        return None
    return load_config(path)


def cannot_start(reason: object, *, json_logs: bool) -> int:
    """Say why the gateway stops before serving, in the format of the other lines; the exit status."""
    if json_logs:
        logging.getLogger("bedrock_proxy.server").error("cannot start: %s.", reason)
    else:
        print(f"bedrock-proxy: cannot start: {reason}.", file=sys.stderr)
    return 1
