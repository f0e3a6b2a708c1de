"""What `bedrock-proxy --version` and `--help` tell a user who has only the installed command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.metadata import version

import pytest

from bedrock_proxy.cli import build_parser
from tests.support.processes import clean_env

COMMANDS = ("serve", "demo", "emulator", "check-config", "doctor")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_prints_the_installed_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"bedrock-proxy {version('bedrock-proxy')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_says_what_it_does_and_its_exit_codes(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    description = result.stdout.split("options:")[0]
    assert "Exit codes: 0" in " ".join(description.split()), result.stdout


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_every_command_has_a_help_string(command: str) -> None:
    undocumented = [
        action.option_strings[0]
        for action in _subparsers()[command]._actions
        if action.option_strings and not action.help
    ]
    assert undocumented == []


def test_the_top_level_help_lists_every_command_with_a_summary() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("positional arguments:")[1].split("options:")[0]
    for command in COMMANDS:
        lines = listing.split(f"  {command}", 1)[1].split("\n")
        summary = lines[0].strip() or lines[1].strip()  # argparse wraps long command names
        assert summary and not summary.startswith(COMMANDS), (command, result.stdout)
