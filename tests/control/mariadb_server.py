"""A real, throwaway MariaDB server for the tests: mariadb-install-db into a temporary directory, mariadbd on
a free loopback port and a private socket (never the system service), password authentication over TCP (as
a deployment has), root over its own socket for the test's administration. A machine without MariaDB
fails the tests with the command that installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mysql.connector
import pytest

from tests.support.processes import free_port

INSTALL = "apt-get update && apt-get install -y mariadb-server"
USER = "proxy"
PASSWORD = "s3cret-Maria-pw-7315"  # tests assert it never appears in output
START_SECONDS = 60


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if found is None:
        pytest.fail(f"MariaDB is not installed (no {name}): install it with `{INSTALL}`", pytrace=False)
    return found


@dataclass
class MariadbServer:
    port: int
    socket: str

    def admin(self) -> Any:
        return mysql.connector.connect(unix_socket=self.socket, user="root", autocommit=True)

    def url(self, database: str, password: str = PASSWORD, port: int | None = None) -> str:
        return f"mysql://{USER}:{password}@127.0.0.1:{port or self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database the test user owns; its URL (with the password)."""
        name = f"spend_{uuid.uuid4().hex[:12]}"
        conn = self.admin()
        try:
            cursor = conn.cursor()
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            cursor.execute(f"GRANT ALL ON {name}.* TO '{USER}'@'127.0.0.1'")
        finally:
            conn.close()
        return self.url(name)


@contextmanager
def mariadb_server() -> Iterator[MariadbServer]:
    install, server = _binary("mariadb-install-db"), _binary("mariadbd")
    as_root = os.geteuid() == 0
    root = tempfile.mkdtemp(prefix="bedrock-proxy-maria-", dir="/tmp" if as_root else None)
    data, socket = os.path.join(root, "data"), os.path.join(root, "mariadb.sock")
    owner = ["--user=mysql"] if as_root else []
    if as_root:
        shutil.chown(root, "mysql", "mysql")
    admin = "root" if as_root else os.getlogin()
    done = subprocess.run(
        [install, "--no-defaults", f"--datadir={data}", *owner, "--skip-test-db",
         "--auth-root-authentication-method=socket", f"--auth-root-socket-user={admin}"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    port = free_port()
    log = open(os.path.join(root, "server.log"), "wb")  # noqa: SIM115 - closed after the server stops
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", *owner, f"--socket={socket}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=64M",
         "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--skip-symbolic-links",
         f"--pid-file={root}/mariadb.pid"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        mariadb = MariadbServer(port, socket)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                conn = mariadb.admin()
                break
            except mysql.connector.Error:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    with open(os.path.join(root, "server.log"), errors="replace") as written:
                        text = written.read()[-3000:]
                    raise RuntimeError(f"mariadbd did not start:\n{text}") from None
                time.sleep(0.2)
        try:
            cursor = conn.cursor()
            cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
        finally:
            conn.close()
        yield mariadb
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
