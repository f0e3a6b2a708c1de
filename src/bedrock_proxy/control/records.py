"""The control plane's records: keys, teams and users as the storage keeps them and the API answers them.

Frozen dataclasses, shared by the storage (control/store.py and its backends) and the management API, so
both sides agree on one vocabulary. A key is known by its `key_id` (sha256 hex, bedrock_proxy.keys.key_id):
the plaintext key is shown once, at generation, and never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Budget:
    max_budget: float | None = None  # USD per period (for life without a duration): hard, 429 past it
    soft_budget: float | None = None  # USD: past it an alert, calls still pass
    budget_duration: str | None = None  # LiteLLM's "30s", "10m", "1h", "1d", "7d", "30d", "1mo"
    budget_reset_at: float | None = None  # epoch seconds of the next reset; None without a duration
    spend: float = 0.0  # USD spent in the current period


@dataclass(frozen=True, slots=True)
class Limits:
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str  # sha256 hex of the key (bedrock_proxy.keys.key_id); the plaintext is never stored
    key_name: str  # LiteLLM's display form of the key, "sk-...wxyz"
    key_alias: str | None = None
    models: tuple[str, ...] = ()  # empty: the team's models, else every model
    budget: Budget = Budget()
    limits: Limits = Limits()
    team_id: str | None = None
    user_id: str | None = None
    expires: float | None = None  # epoch seconds
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class TeamRecord:
    team_id: str
    team_alias: str | None = None
    models: tuple[str, ...] = ()  # empty: every model
    budget: Budget = Budget()
    limits: Limits = Limits()
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    user_email: str | None = None
    user_role: str | None = None  # LiteLLM's roles: "proxy_admin", "internal_user", ...
    models: tuple[str, ...] = ()  # empty: every model
    budget: Budget = Budget()
    limits: Limits = Limits()
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SpendEntry:
    """One charged call, as the compact ledger keeps it: one row per call, never the prompt."""

    request_id: str  # with start_time, the ledger's identity: the same call written twice counts once
    key_id: str  # sha256 hex of the key, or the alias for callers without a key ("anonymous")
    key_alias: str
    model: str  # the public model name the client asked for
    bedrock_model_id: str
    spend: float  # USD
    prompt_tokens: int
    completion_tokens: int
    start_time: float  # time.time()
    end_time: float
    kind: str = "chat"
    estimated: bool = False  # the call was cut short before Bedrock sent its usage: its tokens are estimated
    # the key's team and user when the call was made; None: the store fills them from the key's record
    team_id: str | None = None
    user_id: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SpendEntry:
        """A spend_logs row, in LOG_COLUMNS order (control/sql.py)."""
        (rid, kid, alias, team, user, model, model_id, kind, spend, prompt, completion, start, end, est) = row
        return cls(
            rid,
            kid,
            alias,
            model,
            model_id,
            float(spend),
            int(prompt),
            int(completion),
            float(start),
            float(end),
            kind,
            bool(est),
            team or None,
            user or None,
        )

    def as_row(self) -> tuple[Any, ...]:
        """The spend_logs row, in LOG_COLUMNS order (the inverse of from_row)."""
        return (
            self.request_id,
            self.key_id,
            self.key_alias,
            self.team_id or "",
            self.user_id or "",
            self.model,
            self.bedrock_model_id,
            self.kind,
            self.spend,
            self.prompt_tokens,
            self.completion_tokens,
            self.start_time,
            self.end_time,
            self.estimated,
        )


# the names update_key/update_team/update_user accept: a record's fields, budget and limits flattened
BUDGET_FIELDS = ("max_budget", "soft_budget", "budget_duration", "budget_reset_at", "spend")
LIMIT_FIELDS = ("rpm_limit", "tpm_limit", "max_parallel_requests")
KEY_FIELDS = (
    "key_alias",
    "models",
    *BUDGET_FIELDS,
    *LIMIT_FIELDS,
    "team_id",
    "user_id",
    "expires",
    "blocked",
    "metadata",
)
TEAM_FIELDS = ("team_alias", "models", *BUDGET_FIELDS, *LIMIT_FIELDS, "blocked", "metadata")
USER_FIELDS = ("user_email", "user_role", "models", *BUDGET_FIELDS, *LIMIT_FIELDS, "metadata")
