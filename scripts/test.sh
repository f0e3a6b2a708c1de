#!/usr/bin/env bash
# Installs the project with its test dependencies, then runs lint, the type checker (strict, over src/) and
# the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
exec python3 -m pytest "$@"
