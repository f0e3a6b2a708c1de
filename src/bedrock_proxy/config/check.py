"""`bedrock-proxy check-config --config PATH`: print every issue of a config and exit 1 on errors.

It reads the file and the environment only: no network, nothing written, nothing started.
"""

from __future__ import annotations

import argparse
import os
import sys

from bedrock_proxy.config.loader import inspect_config
from bedrock_proxy.config.report import format_report


def check_config_from_args(args: argparse.Namespace) -> int:
    config = inspect_config(args.config, dict(os.environ))
    print(f"{config.source}:")
    print(format_report(config))
    if config.errors:
        print("fix the errors above; the gateway refuses to start until they are fixed", file=sys.stderr)
        return 1
    return 0
