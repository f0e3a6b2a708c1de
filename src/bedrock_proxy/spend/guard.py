"""Per-key admission: a key past its spend_limit, rpm or tpm is refused before any upstream call.

Budgets read the ledger's in-memory totals; rpm and tpm count in the counters handed in (the wiring hands the
router's CounterStore: the same sliding minute windows as the gateway-wide limits, so a shared store shares
them across processes too), and a key over its rpm or tpm is refused with the error `limit_error` builds (the
router's, so both limits answer alike). spend sits beside the router, not above it: it imports neither.
tpm counts the real tokens of each answer once it is known: a key is refused while its last minute's tokens
reach tpm.

Budgets hold under concurrency through reservations: `reserve` sets a call's maximum cost aside before it
is sent, in the same step as the budget check, and the reservation is settled when the call's record (its
real cost) is counted. A call is admitted while spent + reserved is below the key's spend_limit and, when
other calls of the key are in flight, only if its own maximum cost fits in what is left: concurrent calls
can together spend at most the budget (up to the estimate's error), and a lone call is admitted while the
spend is below the limit, as before, so it is the only one that can pass it (by its own cost).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import KeyIdentity
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.spend.ledger import SpendLedger
from bedrock_proxy.spend.reservations import LocalReservations, Reservation, Reservations

# OpenAI's SDKs do not retry a response that says so; an exhausted budget does not heal by retrying.
NO_RETRY_HEADER = (b"x-should-retry", b"false")


def usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.6f}".rstrip("0").rstrip(".")


class BudgetExceeded(GatewayError):
    """429 like OpenAI's exhausted quota (code insufficient_quota), type budget_exceeded like LiteLLM."""

    def __init__(
        self, alias: str, spent: float, limit: float, reserved: float = 0.0, wanted: float = 0.0
    ) -> None:
        in_flight = f" (and {usd(reserved)} is reserved by its requests in flight)" if reserved > 0 else ""
        if wanted > 0:
            in_flight += (
                f"; this request may cost up to {usd(wanted)}, more than is left while they run: retry "
                "when they have finished, or lower max_tokens"
            )
        super().__init__(
            429,
            f"Budget has been exceeded! API key '{alias}' has spent {usd(spent)} of its spend_limit of "
            f"{usd(limit)}{in_flight}. Ask the gateway's administrator to raise spend_limit for this key "
            "(general_settings.api_keys in config.yaml) or to give you another key.",
            type="budget_exceeded",
            code=ErrorCode.INSUFFICIENT_QUOTA,
            headers=(NO_RETRY_HEADER,),
        )


def _rpm_key(key_id: str) -> str:
    return f"key-rpm:{key_id}"


def _tpm_key(key_id: str) -> str:
    return f"key-tpm:{key_id}"


class Counters(Protocol):
    """Sliding one-minute counters (what router.state.CounterStore provides)."""

    def total(self, key: str, now: float) -> float: ...
    def free_in(self, key: str, limit: float, needed: float, now: float) -> float: ...
    def add(self, key: str, amount: float, now: float) -> float: ...


# (message, seconds until the limit frees up, error code) -> the 429 the caller sees
LimitError = Callable[[str, float, ErrorCode], GatewayError]


class KeyGuard:
    def __init__(
        self,
        identities: Iterable[KeyIdentity],
        ledger: SpendLedger | None,
        counters: Counters,
        limit_error: LimitError,
        reservations: Reservations | None = None,
    ) -> None:
        self.limit_error = limit_error
        self.reservations: Reservations = reservations if reservations is not None else LocalReservations()
        self._keys = {i.key_id: i for i in identities if i.spend_limit is not None or i.rpm or i.tpm}
        self._tpm_ids = frozenset(i.key_id for i in self._keys.values() if i.tpm)
        self.ledger = ledger
        self.counters = counters

    @property
    def counts_tokens(self) -> bool:
        return bool(self._tpm_ids)

    def keeps_budget(self, principal: KeyIdentity) -> bool:
        """The key has a spend_limit this guard enforces (its calls reserve their maximum cost)."""
        identity = self._keys.get(principal.key_id)
        return identity is not None and identity.spend_limit is not None and self.ledger is not None

    def _check_budget(self, identity: KeyIdentity) -> None:
        assert identity.spend_limit is not None and self.ledger is not None
        spent = self.ledger.spent(identity.key_id)
        reserved = self.reservations.reserved(identity.key_id)
        if spent + reserved >= identity.spend_limit:
            raise BudgetExceeded(identity.alias, spent, identity.spend_limit, reserved)

    def reserve(self, principal: KeyIdentity, max_cost: float) -> Reservation | None:
        """Check the key's budget and set `max_cost` (USD) aside for one call, in one step (no await between
        them, so concurrent calls see each other's reservations); None for a key without a budget. Settle
        the reservation once the call's record is submitted (its real cost is then in the ledger)."""
        identity = self._keys.get(principal.key_id)
        if identity is None or identity.spend_limit is None or self.ledger is None:
            return None
        self._check_budget(identity)
        max_cost = max(max_cost, 0.0)
        spent = self.ledger.spent(identity.key_id)
        reserved = self.reservations.reserved(identity.key_id)
        if reserved > 0 and spent + reserved + max_cost > identity.spend_limit:
            raise BudgetExceeded(identity.alias, spent, identity.spend_limit, reserved, max_cost)
        return self.reservations.reserve(identity.key_id, max_cost)

    def admit(self, principal: KeyIdentity) -> None:
        """Raise the error the caller should see, or count the request against its key's rpm."""
        identity = self._keys.get(principal.key_id)
        if identity is None:
            return
        if identity.spend_limit is not None and self.ledger is not None:
            self._check_budget(identity)
        now = time.monotonic()
        counters = self.counters
        if identity.tpm:
            key = _tpm_key(identity.key_id)
            if counters.total(key, now) >= identity.tpm:
                raise self.limit_error(
                    f"API key '{identity.alias}' is limited to {identity.tpm} tokens per minute (tpm)",
                    counters.free_in(key, identity.tpm, 1, now),
                    ErrorCode.KEY_TPM_LIMIT_EXCEEDED,
                )
        if identity.rpm:
            key = _rpm_key(identity.key_id)
            if counters.total(key, now) >= identity.rpm:
                raise self.limit_error(
                    f"API key '{identity.alias}' is limited to {identity.rpm} requests per minute (rpm)",
                    counters.free_in(key, identity.rpm, 1, now),
                    ErrorCode.KEY_RPM_LIMIT_EXCEEDED,
                )
            counters.add(key, 1, now)

    def observe(self, record: CallRecord) -> None:
        """Count an answer's tokens against its key's tpm (called as each record is submitted)."""
        if record.api_key_id in self._tpm_ids and record.usage.total_tokens:
            self.counters.add(_tpm_key(record.api_key_id), record.usage.total_tokens, time.monotonic())
