"""What `serve` says about its config before it starts: the readable report, or, with json_logs, one JSON
log record per issue, so that every line a JSON-logging gateway writes is JSON from the first one.

The report is `preflight.full_report`: the file's own issues plus what the parts built from it find, the
same list `check-config` prints, so a config that passes the check starts.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from bedrock_proxy.config import Config, format_report, inspect_config
from bedrock_proxy.config.dotenv import apply_dotenv, describe
from bedrock_proxy.config.issues import ConfigIssue
from bedrock_proxy.config.loader import apply_environment_variables
from bedrock_proxy.config.report import in_report_order
from bedrock_proxy.preflight import full_report

logger = logging.getLogger("bedrock_proxy.config")


def load_for_serving(
    path: str, configure_logging: Callable[[Config], None], env_file: str | None = None
) -> Config | None:
    """The config with its issues reported, or None after reporting its errors. `.env` is read first, then
    logging is configured from the file (even a file with errors says whether it wants JSON)."""
    note = describe(apply_dotenv(path, os.environ, env_file))
    inspected = inspect_config(path)
    configure_logging(inspected)
    issues = full_report(inspected, os.environ) if inspected.deployments else list(inspected.issues)
    failed = any(issue.level == "error" for issue in issues)
    if inspected.settings.json_logs:
        _log(issues, note)
        if failed:
            logger.error("%s has errors; fix them and start again.", path)
    else:
        if note:
            print(f"bedrock-proxy: {note}", file=sys.stderr)
        if issues:
            print(format_report(issues), file=sys.stderr)
        if failed:
            print(f"bedrock-proxy: {path} has errors; fix them and start again.", file=sys.stderr)
    if failed:
        return None
    apply_environment_variables(inspected, os.environ)  # what load_config would do, without reading it again
    return inspected


def _log(issues: list[ConfigIssue], note: str | None) -> None:
    if note:
        logger.info("%s", note)
    for issue in in_report_order(issues):
        logger.log(
            logging.ERROR if issue.level == "error" else logging.WARNING,
            "%s: %s",
            issue.path,
            issue.message,
            extra={"config_key": issue.path, "config_line": issue.line},
        )


def cannot_start(reason: object, *, json_logs: bool) -> int:
    """Say why the gateway stops before serving, in the format of the other lines; the exit status."""
    if json_logs:
        logging.getLogger("bedrock_proxy.server").error("cannot start: %s.", reason)
    else:
        print(f"bedrock-proxy: cannot start: {reason}.", file=sys.stderr)
    return 1
