"""Where spend is kept, decided once at start-up from general_settings and the environment.

- The ledger is on when an api_key has a spend_limit (budgets need totals), or when a database is configured
  (general_settings.database_url or env DATABASE_URL) and disable_spend_logs is false.
- With a master key and a configured database (key management, docs/keys.md) it is on even with
  disable_spend_logs: generated keys' budgets need their totals.
- disable_spend_logs keeps the per-key totals (budgets still hold) but writes no per-request rows.
- No database configured: SQLite file `bedrock-proxy.db` in the working directory (the systemd unit runs in
  /var/lib/bedrock-proxy; the container sets DATABASE_URL=sqlite:////app/data/bedrock-proxy.db).
- postgresql:// (or postgres://): PostgreSQL; mysql:// (or mariadb://): MySQL / MariaDB; either is shared
  by every gateway host that points at it.
The store is opened once here, so an unusable file or an unreachable database stops the start-up with
advice instead of failing on the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bedrock_proxy.control.location import database_for_url
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.control.store import DEFAULT_DATABASE_URL
from bedrock_proxy.control.urls import backend_of, redact
from bedrock_proxy.spend.postgres import PostgresSpendStore
from bedrock_proxy.spend.sqlite import SqliteSpendStore, sqlite_path
from bedrock_proxy.spend.store import SpendStore

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

__all__ = ["DEFAULT_DATABASE_URL", "LedgerPlan", "plan_ledger", "uses_default_file"]


@dataclass(frozen=True, slots=True)
class LedgerPlan:
    store: SpendStore
    keep_logs: bool  # False: totals only (disable_spend_logs)
    url: str  # for the start-up log: a SQLite path, or a server's URL without its password


def _has_budgets(settings: Settings) -> bool:
    return any(key.spend_limit is not None for key in settings.api_keys)


def _configured_url(settings: Settings, environ: Mapping[str, str]) -> str | None:
    return settings.database_url or environ.get("DATABASE_URL") or None


def uses_default_file(settings: Settings, environ: Mapping[str, str]) -> bool:
    """True when nothing names a database, so the ledger (budgets) and the Responses API's stored responses
    would be `bedrock-proxy.db` in the working directory: the demo moves it to a temporary directory then,
    so it leaves no file behind."""
    return _configured_url(settings, environ) is None


def ledger_store(url: str) -> SqlControlStore:
    """The spend store for a database URL (SpendStoreError naming the accepted URLs for another)."""
    backend = backend_of(url)
    if backend == "postgresql":
        return PostgresSpendStore(url)
    if backend == "sqlite":
        return SqliteSpendStore(sqlite_path(url))
    return SqlControlStore(database_for_url(url, "spend"))


def plan_ledger(settings: Settings, environ: Mapping[str, str]) -> LedgerPlan | None:
    """The store to use, or None when nothing asks for spend to be kept. Raises SpendStoreError (a
    ValueError) with advice when budgets are configured but cannot be kept."""
    budgets = _has_budgets(settings)
    url = _configured_url(settings, environ)
    keep_logs = not settings.disable_spend_logs
    # key management (a master key and a database) keeps generated keys' budgets: totals at least
    managed = url is not None and bool(settings.master_key)
    if not budgets and not managed and (url is None or not keep_logs):
        return None
    url = url or DEFAULT_DATABASE_URL
    store = ledger_store(url)
    store.check()
    return LedgerPlan(store, keep_logs, redact(url))
