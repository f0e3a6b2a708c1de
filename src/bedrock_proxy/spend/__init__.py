"""Spend: the ledger of what each key spent, its storage, and the per-key budgets and rate limits."""

from bedrock_proxy.keys import KeyIdentity, key_id, key_identities
from bedrock_proxy.spend.guard import BudgetExceeded, KeyGuard
from bedrock_proxy.spend.ledger import SpendLedger
from bedrock_proxy.spend.location import DEFAULT_DATABASE_URL, LedgerPlan, plan_ledger
from bedrock_proxy.spend.sqlite import SqliteSpendStore
from bedrock_proxy.spend.store import SpendEntry, SpendStore, SpendStoreError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "BudgetExceeded",
    "KeyGuard",
    "KeyIdentity",
    "LedgerPlan",
    "SpendEntry",
    "SpendLedger",
    "SpendStore",
    "SpendStoreError",
    "SqliteSpendStore",
    "key_id",
    "key_identities",
    "plan_ledger",
]
