"""A real, throwaway PostgreSQL server for the tests: initdb in a temporary directory, pg_ctl start on a free
loopback port, password authentication over TCP (as a deployment has), trust on its own Unix socket for the
test's administration. A machine without PostgreSQL fails the tests with the command that installs it."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from tests.support.processes import free_port

INSTALL = "apt-get update && apt-get install -y postgresql"
USER = "proxy"
PASSWORD = "s3cret-Pg-pw-4821"  # tests assert it never appears in output


def _binaries() -> str:
    """The directory of initdb and pg_ctl (Debian keeps them out of PATH, under /usr/lib/postgresql/<ver>)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    pytest.fail(f"PostgreSQL is not installed (no initdb): install it with `{INSTALL}`", pytrace=False)


def _as_owner(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user the Debian package creates."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    port: int
    socket_dir: str

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def url(self, dbname: str, password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{port or self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database owned by the test user; its URL (with the password)."""
        name = f"spend_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(USER))
            )
        return self.url(name)


def _run(args: list[str]) -> None:
    done = subprocess.run(_as_owner(args), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _binaries()
    # as root, under /tmp: the postgres user must reach it, and a root-only TMPDIR would stop it
    root = tempfile.mkdtemp(prefix="bedrock-proxy-pg-", dir="/tmp" if os.geteuid() == 0 else None)
    data, sockets = os.path.join(root, "data"), os.path.join(root, "run")
    os.makedirs(sockets)
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    port = free_port()
    try:
        # scram over TCP, like a real deployment; trust on the private socket, for the fixture itself
        _run(
            [
                f"{bin_dir}/initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        _run(
            [
                f"{bin_dir}/pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-l",
                f"{root}/server.log",
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        server = PostgresServer(port, sockets)
        try:
            with server.admin() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(USER), sql.Literal(PASSWORD)
                    )
                )
            yield server
        finally:
            _run([f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
