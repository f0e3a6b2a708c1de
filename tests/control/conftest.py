"""The storage matrix: every control-store test runs on SQLite, PostgreSQL and MariaDB, each a real server
started by the tests (one per session, only when a test asks for it), a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.control.mariadb_server import MariadbServer, mariadb_server
from tests.spend.conftest import postgres, postgres_url  # noqa: F401 - the PostgreSQL fixtures, shared

BACKENDS = ["sqlite", "postgresql", "mysql"]


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariadbServer]:
    with mariadb_server() as server:
        yield server


@pytest.fixture
def mysql_url(mariadb: MariadbServer) -> str:
    return mariadb.new_database()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend: its URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/control.db"
    fixture = "postgres_url" if request.param == "postgresql" else "mysql_url"
    url: str = request.getfixturevalue(fixture)
    return url
