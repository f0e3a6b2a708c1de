"""A vendor's own SDK run in a throwaway virtualenv, for the tests that prove a fake server with the client
it stands in for: the SDK is pinned but is no dependency of this project (its pins may clash with ours), so it
is installed from PyPI into a fresh venv and run in a subprocess. The install needs PyPI, so these tests run
when BEDROCK_PROXY_SLOW_TESTS=1, as `.ci/run` sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import clean_env

SLOW = os.environ.get("BEDROCK_PROXY_SLOW_TESTS") == "1"


def slow_sdk_tests(requirement: str) -> pytest.MarkDecorator:
    """The skip mark of a module whose tests install `requirement` (say "lunary==1.4.41")."""
    return pytest.mark.skipif(
        not SLOW,
        reason=f"slow: set BEDROCK_PROXY_SLOW_TESTS=1 to install {requirement} from PyPI into a virtualenv",
    )


def venv_env() -> dict[str, str]:
    """The environment for the venv's python: ours cleaned, and nothing that points at this project."""
    env = clean_env()
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_CONSTRAINT", "BEDROCK_PROXY_SLOW_TESTS"):
        env.pop(name, None)
    return env


def venv_with(requirement: str, where: Path) -> Path:
    """The python of a fresh virtualenv under `where` holding only `requirement` and what it pulls."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", requirement],
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert install.returncode == 0, f"pip install {requirement} failed:\n{install.stderr[-3000:]}"
    return python


def json_type(value: Any) -> str:
    """A value's type once it has been through JSON (a tuple is a list)."""
    return type(json.loads(json.dumps(value))).__name__
