"""Who is calling: the master key, or one of the config's api_keys limited to its models.

Keys are looked up by their SHA-256 digest, so the comparison time never depends on how much of a key
an attacker guessed right, and the plain keys are not kept in the lookup table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import (
    ANONYMOUS,
    ConfiguredKey,
    KeyIdentity,
    describe_models,
    key_id,
    key_identities,
)
from bedrock_proxy.server.http import Scope


class GeneratedKeys(Protocol):
    """Keys made through the management API (the key directory, control/directory.py), held in memory."""

    def authenticate(self, key_id: str) -> KeyIdentity | None:
        """The key's identity; None for an unknown (or deleted) key; raises GatewayError for a key that
        is blocked or expired, saying which."""
        ...

    def identity(self, key_id: str) -> KeyIdentity | None:
        """The key's identity whatever its state (for the read-only routes), or None."""
        ...


class KeyRing:
    def __init__(
        self,
        master_key: str | None,
        api_keys: Sequence[ConfiguredKey],
        generated: GeneratedKeys | None = None,
    ) -> None:
        self.identities: list[KeyIdentity] = key_identities(master_key, api_keys)
        self._keys: dict[str, KeyIdentity] = {identity.key_id: identity for identity in self.identities}
        self.generated = generated  # None unless key management is on (master_key and a database)

    def by_key_id(self, digest: str) -> KeyIdentity | None:
        configured = self._keys.get(digest)
        if configured is None and self.generated is not None:
            return self.generated.identity(digest)
        return configured

    @property
    def open(self) -> bool:
        """No key configured: every caller is let in (the start-up log says so)."""
        return not self._keys

    def authenticate(self, scope: Scope) -> KeyIdentity:
        if not self._keys:
            return ANONYMOUS
        key = presented_key(scope)
        if key is None and _has_header(scope, b"authorization"):
            raise GatewayError(
                401,
                "The Authorization header is not in the form 'Bearer <key>'. Send "
                "'Authorization: Bearer sk-...' (the word Bearer, a space, then the key), "
                "or the key alone in the 'x-api-key' header.",
                type="authentication_error",
                code=ErrorCode.MALFORMED_AUTHORIZATION_HEADER,
            )
        if key is None:
            raise GatewayError(
                401,
                "Missing API key. Send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header.",
                type="authentication_error",
                code=ErrorCode.MISSING_API_KEY,
            )
        digest = key_id(key)
        principal = self._keys.get(digest)
        if principal is None and self.generated is not None:
            principal = self.generated.authenticate(digest)
        if principal is None:
            raise GatewayError(
                401,
                "Invalid API key. Check the key you were given by the gateway's administrator.",
                type="authentication_error",
                code=ErrorCode.INVALID_API_KEY,
            )
        return principal

    def authenticate_optional(self, scope: Scope) -> KeyIdentity | None:
        """For public routes that tailor their answer to a key when one is sent."""
        if not self._keys or presented_key(scope) is None:
            return None
        return self.authenticate(scope)


def _has_header(scope: Scope, wanted: bytes) -> bool:
    """A non-blank `wanted` header was sent: a key was meant, so a malformed one deserves a hint."""
    return any(name == wanted and value.strip() for name, value in scope["headers"])


def presented_key(scope: Scope) -> str | None:
    """The key the caller sent, as 'Authorization: Bearer <key>' or 'x-api-key: <key>'. Headers that name
    different keys are refused: picking one of them silently would let a proxy and a client disagree on who
    is calling."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    authorizations = {value.decode("latin-1").strip() for name, value in headers if name == b"authorization"}
    api_keys = {value.decode("latin-1").strip() for name, value in headers if name == b"x-api-key"}
    authorizations.discard("")
    api_keys.discard("")
    if len(authorizations) > 1 or len(api_keys) > 1:
        raise _conflicting(
            "two Authorization headers" if len(authorizations) > 1 else "two x-api-key headers"
        )
    bearer = None
    if authorizations:
        scheme, _, token = next(iter(authorizations)).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            bearer = token.strip()
    api_key = next(iter(api_keys)) if api_keys else None
    if bearer is not None and api_key is not None and bearer != api_key:
        raise _conflicting("an Authorization header and an x-api-key header")
    return bearer or api_key


def _conflicting(what: str) -> GatewayError:
    return GatewayError(
        400,
        f"The request carries {what} with different keys: send one key, once"
        " ('Authorization: Bearer <key>' or 'x-api-key: <key>').",
        code=ErrorCode.CONFLICTING_API_KEYS,
    )


def require_model_access(principal: KeyIdentity, model: str) -> None:
    """403 for a model outside the key's models, or outside its team's (a generated key in a team)."""
    if principal.team_refuses(model):
        team = principal.team_name or principal.team_id
        raise GatewayError(
            403,
            f"The team '{team}' of this API key may not use model '{model}'. Models allowed for the team: "
            f"{describe_models(principal.team_models)}.",
            type="permission_error",
            param="model",
            code=ErrorCode.TEAM_MODEL_ACCESS_DENIED,
        )
    if not principal.may_use(model):
        allowed = describe_models(principal.models)
        raise GatewayError(
            403,
            f"This API key may not use model '{model}'. Models allowed for this key: {allowed}.",
            type="permission_error",
            param="model",
            code=ErrorCode.MODEL_NOT_ALLOWED,
        )
