"""Where spend is kept, decided once at start-up from general_settings and the environment.

- The ledger is on when an api_key has a spend_limit (budgets need totals), or when a database is configured
  (general_settings.database_url or env DATABASE_URL) and disable_spend_logs is false.
- disable_spend_logs keeps the per-key totals (budgets still hold) but writes no per-request rows.
- No database configured: SQLite file `bedrock-proxy.db` in the working directory (the systemd unit runs in
  /var/lib/bedrock-proxy; the container sets DATABASE_URL=sqlite:////app/data/bedrock-proxy.db).
- postgresql:// is not implemented for spend yet: with budgets configured they are kept in the default
  SQLite file (per host) with a start-up warning; without budgets spend is not recorded, said at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bedrock_proxy.spend.sqlite import SqliteSpendStore, sqlite_path
from bedrock_proxy.spend.store import SpendStore, SpendStoreError

log = logging.getLogger("bedrock_proxy.spend")

DEFAULT_DATABASE_URL = "sqlite:///bedrock-proxy.db"
POSTGRES_FOLLOW_UP = (
    "spend and budgets are stored in SQLite only for now; PostgreSQL storage is a planned follow-up "
    "(spend/ PostgresSpendStore)"
)


@dataclass(frozen=True, slots=True)
class LedgerPlan:
    store: SpendStore
    keep_logs: bool  # False: totals only (disable_spend_logs)
    url: str  # for the start-up log; a SQLite path carries no secret


def _get(settings: Any, name: str) -> Any:
    return settings.get(name) if isinstance(settings, Mapping) else getattr(settings, name, None)


def plan_ledger(settings: Any, environ: Mapping[str, str]) -> LedgerPlan | None:
    """The store to use, or None when nothing asks for spend to be kept. Raises SpendStoreError (a
    ValueError) with advice when budgets are configured but cannot be kept."""
    api_keys = _get(settings, "api_keys") or []
    budgets = [k for k in api_keys if getattr(k, "spend_limit", None) is not None]
    url = _get(settings, "database_url") or environ.get("DATABASE_URL") or None
    keep_logs = not bool(_get(settings, "disable_spend_logs"))
    if not budgets and (url is None or not keep_logs):
        return None
    url = url or DEFAULT_DATABASE_URL
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        if not budgets:
            log.warning("spend logs are not written: %s", POSTGRES_FOLLOW_UP)
            return None
        # the seed's own config pairs budgets with a PostgreSQL URL: keep them, in the local file
        log.warning("%s: budgets are kept in %s, per host", POSTGRES_FOLLOW_UP, DEFAULT_DATABASE_URL)
        url = DEFAULT_DATABASE_URL
        scheme = "sqlite"
    if scheme != "sqlite":
        raise SpendStoreError(f"database_url must be sqlite:///path.db for spend, not a {scheme}:// URL")
    store = SqliteSpendStore(sqlite_path(url))
    store.check()
    return LedgerPlan(store, keep_logs, url)
