"""One bench section run alone (`python -m bench.<section>`): the plan's size from the command line, the
same emulators as `python -m bench`, the section's JSON printed."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.configs import Upstreams
from bench.plan import PLANS, Plan
from bench.processes import Server, pin_self
from bench.scenarios import upstream_emulators

# (plan, upstreams, the zero-delay emulator, work folder, logs folder) -> the section's JSON
Section = Callable[[Plan, Upstreams, Server, Path, Path], dict]


def parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """The size options every section run alone takes; a section may add its own."""
    parsed = argparse.ArgumentParser(prog=prog, description=description)
    size = parsed.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="tiny (seconds)")
    size.add_argument("--quick", action="store_true", help="shorter runs")
    parsed.add_argument("--repeats", type=int, help="alternated throughput runs (default: the plan's)")
    return parsed


def run(section: Section, args: argparse.Namespace, work_prefix: str) -> int:
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.repeats:
        plan = dataclasses.replace(plan, observability_repeats=args.repeats)
    pin_self()
    work = Path(tempfile.mkdtemp(prefix=work_prefix))
    logs = work / "logs"
    with upstream_emulators(logs) as (up, fast):
        results = section(plan, up, fast, work, logs)
    print(json.dumps({"mode": plan.mode, "logs": str(logs), **results}, indent=1))
    return 0
