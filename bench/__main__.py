"""`python -m bench [--smoke|--quick] [--with-litellm] [--profile] [--out bench/results]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.plan import PLANS
from bench.report import write
from bench.run import run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--smoke", action="store_true", help="every section, tiny: keeps the suite working (< 60 s)"
    )
    size.add_argument("--quick", action="store_true", help="shorter runs (a few minutes)")
    parser.add_argument("--with-litellm", action="store_true", help="also measure the LiteLLM proxy (peer)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at the throughput point")
    parser.add_argument("--out", default="bench/results", help="folder for the JSON and markdown files")
    args = parser.parse_args(argv)
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    results = run(plan, argv, Path(args.out), with_litellm=args.with_litellm, with_profile=args.profile)
    json_path, md_path = write(results, Path(args.out))
    print(md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
