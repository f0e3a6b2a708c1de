"""Where spend is kept, decided once at start-up from general_settings and the environment.

- The ledger is on when an api_key has a spend_limit (budgets need totals), or when a database is configured
  (general_settings.database_url or env DATABASE_URL) and disable_spend_logs is false.
- disable_spend_logs keeps the per-key totals (budgets still hold) but writes no per-request rows.
- No database configured: SQLite file `bedrock-proxy.db` in the working directory (the systemd unit runs in
  /var/lib/bedrock-proxy; the container sets DATABASE_URL=sqlite:////app/data/bedrock-proxy.db).
- postgresql:// (or postgres://): PostgreSQL, shared by every gateway host that points at it.
Either store is opened once here, so an unusable file or an unreachable database stops the start-up with
advice instead of failing on the first request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bedrock_proxy.spend.sqlite import SqliteSpendStore, sqlite_path
from bedrock_proxy.spend.store import SpendStore, SpendStoreError

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

DEFAULT_DATABASE_URL = "sqlite:///bedrock-proxy.db"


@dataclass(frozen=True, slots=True)
class LedgerPlan:
    store: SpendStore
    keep_logs: bool  # False: totals only (disable_spend_logs)
    url: str  # for the start-up log: a SQLite path, or a PostgreSQL URL without its password


def _has_budgets(settings: Settings) -> bool:
    return any(key.spend_limit is not None for key in settings.api_keys)


def _configured_url(settings: Settings, environ: Mapping[str, str]) -> str | None:
    return settings.database_url or environ.get("DATABASE_URL") or None


def uses_default_file(settings: Settings, environ: Mapping[str, str]) -> bool:
    """True when nothing names a database, so the ledger (budgets) and the Responses API's stored responses
    would be `bedrock-proxy.db` in the working directory: the demo moves it to a temporary directory then,
    so it leaves no file behind."""
    return _configured_url(settings, environ) is None


def plan_ledger(settings: Settings, environ: Mapping[str, str]) -> LedgerPlan | None:
    """The store to use, or None when nothing asks for spend to be kept. Raises SpendStoreError (a
    ValueError) with advice when budgets are configured but cannot be kept."""
    budgets = _has_budgets(settings)
    url = _configured_url(settings, environ)
    keep_logs = not settings.disable_spend_logs
    if not budgets and (url is None or not keep_logs):
        return None
    url = url or DEFAULT_DATABASE_URL
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from bedrock_proxy.spend.postgres import PostgresSpendStore  # psycopg loads only for PostgreSQL

        postgres = PostgresSpendStore(url)
        postgres.check()
        return LedgerPlan(postgres, keep_logs, postgres.url)
    if scheme != "sqlite":
        raise SpendStoreError(
            f"database_url must be sqlite:///path.db or postgresql://user:password@host:5432/db for spend, "
            f"not a {scheme}:// URL"
        )
    store = SqliteSpendStore(sqlite_path(url))
    store.check()
    return LedgerPlan(store, keep_logs, url)
