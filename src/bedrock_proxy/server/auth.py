"""Who is calling: the master key, or one of the config's api_keys limited to its models.

Keys are looked up by their SHA-256 digest, so the comparison time never depends on how much of a key
an attacker guessed right, and the plain keys are not kept in the lookup table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.server.http import Scope
from bedrock_proxy.spend.identity import KeyIdentity, key_identities


@dataclass(frozen=True, slots=True)
class Principal:
    alias: str  # safe to log: never the key itself
    models: frozenset[str]  # empty: every model
    is_master: bool = False
    key_id: str = "anonymous"  # what spend is stored under: the key's SHA-256 hex digest

    def may_use(self, model: str) -> bool:
        return not self.models or model in self.models


ANONYMOUS = Principal(alias="anonymous", models=frozenset())


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    def __init__(self, master_key: str | None, api_keys: list) -> None:
        self._keys: dict[bytes, Principal] = {}
        self.identities: list[KeyIdentity] = key_identities(master_key, api_keys)
        for identity in self.identities:
            self._keys[bytes.fromhex(identity.key_id)] = Principal(
                alias=identity.alias,
                models=identity.models,
                is_master=identity.is_master,
                key_id=identity.key_id,
            )
        self._by_id = {principal.key_id: principal for principal in self._keys.values()}

    def by_key_id(self, key_id: str) -> Principal | None:
        return self._by_id.get(key_id)

    @property
    def open(self) -> bool:
        """No key configured: every caller is let in (the start-up log says so)."""
        return not self._keys

    def authenticate(self, scope: Scope) -> Principal:
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
                code="malformed_authorization_header",
            )
        if key is None:
            raise GatewayError(
                401,
                "Missing API key. Send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header.",
                type="authentication_error",
                code="missing_api_key",
            )
        principal = self._keys.get(_digest(key))
        if principal is None:
            raise GatewayError(
                401,
                "Invalid API key. Check the key you were given by the gateway's administrator.",
                type="authentication_error",
                code="invalid_api_key",
            )
        return principal

    def authenticate_optional(self, scope: Scope) -> Principal | None:
        """For public routes that tailor their answer to a key when one is sent."""
        if not self._keys or presented_key(scope) is None:
            return None
        return self.authenticate(scope)


def _has_header(scope: Scope, wanted: bytes) -> bool:
    """A non-blank `wanted` header was sent: a key was meant, so a malformed one deserves a hint."""
    return any(name == wanted and value.strip() for name, value in scope["headers"])


def presented_key(scope: Scope) -> str | None:
    authorization = None
    api_key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            api_key = value.decode("latin-1")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if api_key and api_key.strip():
        return api_key.strip()
    return None


def require_model_access(principal: Principal, model: str) -> None:
    if not principal.may_use(model):
        allowed = ", ".join(sorted(principal.models))
        raise GatewayError(
            403,
            f"This API key may not use model '{model}'. Models allowed for this key: {allowed}.",
            type="permission_error",
            param="model",
            code="model_not_allowed",
        )
