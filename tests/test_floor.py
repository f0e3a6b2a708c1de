"""constraints/floor.txt pins every direct dependency at the floor pyproject.toml declares, so the floor that
`scripts/test-floor.sh` (and CI) tests is the one users are promised."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Tools whose output is part of the test: pyproject allows one minor (>=X.Y,<X.Y+1), floor.txt pins X.Y.0
PINNED_TO_A_MINOR = {"ruff", "mypy"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _floor(requirement: str) -> str | None:
    match = re.search(r">=\s*([0-9][^,; ]*)", requirement)
    return match.group(1) if match else None


def test_every_direct_dependency_is_pinned_at_its_declared_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pins = {}
    for line in (ROOT / "constraints" / "floor.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    for requirement in requirements:
        name, floor = _name(requirement), _floor(requirement)
        assert floor is not None, f"{requirement!r} declares no floor (>=)"
        assert name in pins, f"{name} is not pinned in constraints/floor.txt"
        pinned = pins[name]
        assert pinned == floor or (name in PINNED_TO_A_MINOR and pinned.startswith(floor)), (
            name,
            floor,
            pinned,
        )
