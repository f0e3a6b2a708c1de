"""One real PostgreSQL server per test session (started only when a test asks for it), a fresh database per
test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.control.mariadb_server import MariadbServer, mariadb_server
from tests.spend.postgres_server import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariadbServer]:
    with mariadb_server() as server:
        yield server


@pytest.fixture
def mysql_url(mariadb: MariadbServer) -> str:
    return mariadb.new_database()
