#!/usr/bin/env python3
"""Container HEALTHCHECK: exit 0 when the gateway's liveness endpoint answers 200, else 1.

Standard library only, so the slim image needs no curl; reads PORT like the gateway's start command does.
"""

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("PORT", "4002")
    url = f"http://127.0.0.1:{port}/health/liveliness"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as exc:
        print(f"liveness check failed: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
