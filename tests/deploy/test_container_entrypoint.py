"""The image's entrypoint: a master key for the seed's manual path, where .env leaves it empty."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "container-entrypoint.sh"
PRINT_KEY = ["sh", "-c", 'printf %s "$LITELLM_MASTER_KEY"']


def start(key_file: Path, master_key: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "LITELLM_MASTER_KEY": master_key,
        "GENERATED_MASTER_KEY_FILE": str(key_file),
    }
    return subprocess.run([str(ENTRYPOINT), *PRINT_KEY], env=env, capture_output=True, text=True, check=False)


def test_an_empty_key_is_generated_once_shown_once_and_reused_on_every_restart(tmp_path: Path) -> None:
    first = start(tmp_path / "master-key")
    assert first.returncode == 0, first.stderr
    key = first.stdout
    assert re.fullmatch(r"sk-[0-9a-f]{32}", key)
    assert key in first.stderr and "LITELLM_MASTER_KEY" in first.stderr
    assert (tmp_path / "master-key").stat().st_mode & 0o077 == 0
    again = start(tmp_path / "master-key")
    assert again.stdout == key
    assert key not in again.stderr and "cat " in again.stderr


def test_a_key_set_in_env_wins_and_nothing_is_written(tmp_path: Path) -> None:
    done = start(tmp_path / "master-key", master_key="sk-mine")
    assert (done.returncode, done.stdout, done.stderr) == (0, "sk-mine", "")
    assert not (tmp_path / "master-key").exists()


def test_no_writable_place_for_the_key_fails_saying_what_to_set(tmp_path: Path) -> None:
    """E.g. the container run without its gateway-data volume on a read-only root filesystem."""
    done = start(tmp_path / "no-volume" / "master-key")
    assert done.returncode == 1
    assert "LITELLM_MASTER_KEY=sk-" in done.stderr and "openssl rand -hex 16" in done.stderr
