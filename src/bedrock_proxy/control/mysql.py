"""The MySQL / MariaDB driver: Oracle's official mysql-connector-python, its synchronous API on the store's
own thread (as the other two drivers run), so the event loop never waits on the network.

`mysql://user:password@host:3306/db` (also `mariadb://` and SQLAlchemy's `mysql+mysqlconnector://`);
`?unix_socket=/path` connects through a socket. The session runs in UTC (the daily aggregates' days) with
utf8mb4. The password never reaches a log or an error: messages name the database as user@host:port/db.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import mysql.connector
from mysql.connector import errorcode

from bedrock_proxy.control.database import Database
from bedrock_proxy.control.migrations import Cursor
from bedrock_proxy.control.sql import MYSQL
from bedrock_proxy.control.store import StoreError
from bedrock_proxy.control.urls import redact, scrub

CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_PORT = 3306
_OPTIONS = ("unix_socket", "ssl_ca", "ssl_cert", "ssl_key", "ssl_disabled", "charset", "collation")


def mysql_params(url: str) -> dict[str, Any]:
    """mysql.connector.connect's keywords for a URL; StoreError naming the URL's shape when it is not one."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = -1
    database = urllib.parse.unquote(parts.path.lstrip("/"))
    if port < 0 or not database or "/" in database:
        raise StoreError(
            f"database_url {redact(url)} is not a MySQL URL: use mysql://user:password@host:3306/dbname "
            "(percent-encode special characters; ?unix_socket=/path for a socket)"
        )
    params: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": port,
        "database": database,
        "user": urllib.parse.unquote(parts.username or ""),
        "password": urllib.parse.unquote(parts.password or ""),
    }
    for name, values in urllib.parse.parse_qs(parts.query).items():
        if name in _OPTIONS:
            params[name] = values[-1] if name != "ssl_disabled" else values[-1].lower() in ("1", "true")
    return params


class MysqlDriver:
    dialect = MYSQL
    errors: tuple[type[BaseException], ...] = (mysql.connector.Error,)
    integrity_errors: tuple[type[BaseException], ...] = (mysql.connector.IntegrityError,)

    def __init__(self, url: str) -> None:
        self._params = mysql_params(url)
        password = str(self._params["password"])
        self._secrets = {s for s in (password, urllib.parse.quote(password, safe="")) if s}
        user = self._params["user"]
        host = self._params.get("unix_socket") or f"{self._params['host']}:{self._params['port']}"
        self.where = f"{user + '@' if user else ''}{host}/{self._params['database']}"
        self.url = redact(url)

    def connect(self) -> Any:
        conn = mysql.connector.connect(
            **self._params,
            autocommit=True,
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            charset=self._params.get("charset", "utf8mb4"),
            use_unicode=True,
        )
        try:
            cursor = conn.cursor()
            cursor.execute("SET time_zone = '+00:00'")
            cursor.close()
        except BaseException:
            conn.close()
            raise
        return conn

    def cursor(self, conn: Any) -> Cursor:
        cursor: Cursor = conn.cursor(
            buffered=True
        )  # every result read at once: the next statement may follow
        return cursor

    def alive(self, conn: Any) -> bool:
        return bool(conn.is_connected())

    def reason(self, exc: BaseException) -> str:
        text = getattr(exc, "msg", None) or str(exc)
        return scrub(" ".join(str(text).split()), self._secrets) or type(exc).__name__

    def unreachable(self, exc: BaseException) -> str:
        code = getattr(exc, "errno", None)
        database = self._params["database"]
        if code == errorcode.ER_ACCESS_DENIED_ERROR:
            fix = "fix the user and password in DATABASE_URL (or general_settings.database_url)"
        elif code == errorcode.ER_BAD_DB_ERROR:
            fix = f"create the database (CREATE DATABASE {database}) or fix DATABASE_URL"
        elif code in (errorcode.ER_DBACCESS_DENIED_ERROR, errorcode.ER_TABLEACCESS_DENIED_ERROR):
            # MySQL answers this for a database that does not exist too (it never tells a stranger which)
            fix = (
                f"create the database if it does not exist (CREATE DATABASE {database}) and "
                f"GRANT ALL ON {database}.* TO this user"
            )
        else:
            fix = "start MySQL / MariaDB or fix the host and port in DATABASE_URL"
        return (
            f"cannot use the database {self.where} ({self.reason(exc)}). To fix: {fix}; or remove "
            "spend_limit from api_keys and database_url to run without a spend ledger"
        )


def mysql_database(url: str, thread_name: str = "db-mysql") -> Database:
    return Database(MysqlDriver(url), thread_name)
