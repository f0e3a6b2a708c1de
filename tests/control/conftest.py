"""The backends the end-to-end key tests run on: SQLite (a file per test) and PostgreSQL (a real server per
session, a fresh database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.spend.postgres_server import PostgresServer, postgres_server

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/keys.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
