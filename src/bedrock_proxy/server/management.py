"""What the management routes (/key/*, /team/*, /user/*) share: who may manage, the body, the errors.

Only the master key, or a generated key of a user with the proxy_admin role, manages; any other caller
gets 401 or 403 in OpenAI's error shape. A body the API refuses gets a 400 that names the field.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.control.store import Conflict
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import KeyIdentity
from bedrock_proxy.server.http import Message, Receive, Scope, read_body, read_json

if TYPE_CHECKING:
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.server.app import Gateway

MAX_BODY_BYTES = 1024 * 1024


def directory(gateway: Gateway) -> KeyDirectory:
    """The key directory, or the error that says how to turn key management on."""
    if gateway.control is None:
        raise GatewayError(
            404,
            "Key management is off: it needs general_settings.master_key and a database "
            "(general_settings.database_url or DATABASE_URL, for example sqlite:////var/lib/bedrock-proxy/"
            "bedrock-proxy.db). See docs/keys.md.",
            code=ErrorCode.KEY_MANAGEMENT_OFF,
        )
    return gateway.control


def manager(gateway: Gateway, scope: Scope, route: str) -> KeyIdentity:
    """The caller, when it may manage keys, teams and users; else 401 (no valid key) or 403."""
    control = directory(gateway)
    principal = gateway.keys.authenticate(scope)
    if principal.is_master or control.is_admin(principal):
        return principal
    raise GatewayError(
        403,
        f"{route} needs the master key (or a key of a user with user_role proxy_admin).",
        type="permission_error",
        code=ErrorCode.MASTER_KEY_REQUIRED,
    )


async def body(receive: Receive, gateway: Gateway) -> dict[str, Any]:
    value = await read_json(receive, MAX_BODY_BYTES, gateway.max_json_depth)
    if not isinstance(value, dict):
        raise GatewayError(400, "The body must be a JSON object.", code=ErrorCode.INVALID_JSON)
    return value


async def optional_body(receive: Receive, gateway: Gateway) -> dict[str, Any]:
    """A body that may be left out (an empty body is {}), else a JSON object like `body`'s."""
    raw = await read_body(receive, MAX_BODY_BYTES)
    if not raw.strip():
        return {}
    return await body(_replay(raw), gateway)


def _replay(raw: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive


def query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {name: values[-1] for name, values in urllib.parse.parse_qs(raw).items()}


def invalid(error: FieldError) -> GatewayError:
    return GatewayError(400, str(error), param=error.field)


def conflict(error: Conflict) -> GatewayError:
    return GatewayError(
        400,
        f"{error.field} {error.value!r} is already taken: choose another {error.field}.",
        param=error.field,
        code=ErrorCode.ALREADY_EXISTS,
    )


def not_found(what: str, param: str, code: ErrorCode) -> GatewayError:
    return GatewayError(404, what, param=param, code=code)


def required(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise GatewayError(400, f"{name} is required", param=name)
    return value.strip()


def now() -> float:
    return time.time()
