"""Who a key is: one identity per configured key, read by authentication, per-key limits and the spend ledger.

A key is known everywhere by its `key_id` (the SHA-256 hex digest of the key, as LiteLLM stores its tokens),
never by the key, and never by the alias alone: an alias like `api_keys[1]` moves when the config's list is
reordered, the key does not. Aliases are made unique here so logs and the spend API name one key each.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

MASTER_ALIAS = "master_key"
ANONYMOUS_ID = "anonymous"


def key_id(key: str) -> str:
    """The one digest of a key: what spend is stored under and what authentication looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    alias: str  # safe to log and to return from the API: never the key itself
    key_id: str
    models: frozenset[str] = frozenset()  # empty: every model
    spend_limit: float | None = None  # USD, over the key's whole life
    rpm: int | None = None
    tpm: int | None = None
    is_master: bool = False
    # a key generated through the management API (/key/generate): its budgets (its own, its team's, its
    # user's) are kept by the key directory, not by spend_limit
    generated: bool = False
    team_id: str | None = None
    user_id: str | None = None
    max_parallel_requests: int | None = None
    # a generated key's team's models (empty: every model): the key never gets a model outside them,
    # whatever its own list says; `models` is already narrowed to them, this says who refused
    team_models: frozenset[str] = frozenset()
    team_name: str | None = None

    def may_use(self, model: str) -> bool:
        """An allowed name, or a name a wildcard among them matches (`claude-*`, as a model_name can be)."""
        return model_allowed(self.models, model) and model_allowed(self.team_models, model)

    def team_refuses(self, model: str) -> bool:
        """The key's team may not use `model` (whatever the key's own list says)."""
        return not model_allowed(self.team_models, model)


def model_allowed(models: Collection[str], model: str) -> bool:
    """`model` is one of `models` (none: every model), or a wildcard among them matches it."""
    if not models or model in models:
        return True
    return any("*" in allowed and fnmatch.fnmatchcase(model, allowed) for allowed in models)


# what a key's `models` holds when none of its own models is one its team may use: matches no model name
NO_MODEL = ""


def narrowed(key_models: Collection[str], team_models: Collection[str]) -> frozenset[str]:
    """The models a key in a team may use: both lists allow them (either empty: the other). Names and
    wildcards of one list that the other allows; NO_MODEL alone when none is (an empty set means every
    model, which must never be the result of two lists that share nothing)."""
    if not team_models:
        return frozenset(key_models)
    if not key_models:
        return frozenset(team_models)
    both = {m for m in key_models if model_allowed(team_models, m)}
    both |= {m for m in team_models if model_allowed(key_models, m)}
    return frozenset(both) if both else frozenset({NO_MODEL})


def outside(models: Collection[str], team_models: Collection[str]) -> list[str]:
    """The names (or wildcards) of `models` that `team_models` does not allow, in order."""
    return [m for m in models if not model_allowed(team_models, m)]


def describe_models(models: Collection[str]) -> str:
    """A key's models as an error message lists them."""
    names = sorted(m for m in models if m != NO_MODEL)
    return ", ".join(names) if names else "none (its own models are all outside its team's)"


# the caller when no key is configured: every model, no limits
ANONYMOUS = KeyIdentity(alias=ANONYMOUS_ID, key_id=ANONYMOUS_ID)


class ConfiguredKey(Protocol):
    """A general_settings.api_keys entry, as config's ApiKey holds it (this layer imports no config)."""

    @property
    def key(self) -> str: ...
    @property
    def alias(self) -> str | None: ...
    @property
    def models(self) -> Iterable[str]: ...
    @property
    def spend_limit(self) -> float | None: ...
    @property
    def rpm(self) -> int | None: ...
    @property
    def tpm(self) -> int | None: ...


def key_identities(master_key: str | None, api_keys: Sequence[ConfiguredKey]) -> list[KeyIdentity]:
    """The config's keys, api_keys first in file order, then the master key; aliases unique."""
    out: list[KeyIdentity] = []
    seen: set[str] = {MASTER_ALIAS} if master_key else set()
    for index, api_key in enumerate(api_keys):
        alias = api_key.alias or f"api_keys[{index}]"
        if alias in seen:
            alias = f"{alias} (api_keys[{index}])"
        seen.add(alias)
        out.append(
            KeyIdentity(
                alias=alias,
                key_id=key_id(api_key.key),
                models=frozenset(api_key.models or ()),
                spend_limit=api_key.spend_limit,
                rpm=api_key.rpm or None,
                tpm=api_key.tpm or None,
            )
        )
    if master_key:
        out.append(KeyIdentity(alias=MASTER_ALIAS, key_id=key_id(master_key), is_master=True))
    return out
