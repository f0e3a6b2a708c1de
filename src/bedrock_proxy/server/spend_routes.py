"""LiteLLM's read-only spend routes: GET /key/info (the key itself, or the master key), GET /spend/logs and
GET /global/spend/report (master key only). Keys are answered by alias and SHA-256 digest; a key itself is
never echoed."""

from __future__ import annotations

import datetime
import urllib.parse
from typing import TYPE_CHECKING, Any

from bedrock_proxy.control import key_api, report_api
from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.control.records import SpendEntry as LedgerEntry
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import KeyIdentity, key_id
from bedrock_proxy.server.http import Receive, Scope, Send, send_json
from bedrock_proxy.spend.store import SpendEntry

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext

MAX_LOGS = 1000


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {name: values[-1] for name, values in urllib.parse.parse_qs(raw).items()}


def _master_only(principal: KeyIdentity | None, route: str, gateway: Gateway | None = None) -> None:
    if principal is None or principal.is_master:
        return
    if gateway is not None and gateway.control is not None and gateway.control.is_admin(principal):
        return
    raise GatewayError(
        403, f"{route} needs the master key.", type="permission_error", code=ErrorCode.MASTER_KEY_REQUIRED
    )


def _find_key(gateway: Gateway, value: str) -> KeyIdentity:
    """A configured key, named by the key itself or by its SHA-256 hex digest (what /spend/logs shows)."""
    principal = gateway.keys.by_key_id(value) or gateway.keys.by_key_id(key_id(value))
    if principal is None:
        raise GatewayError(
            404, "No such key in general_settings.api_keys.", param="key", code=ErrorCode.KEY_NOT_FOUND
        )
    return principal


def _names_key(value: str, identity: KeyIdentity) -> bool:
    """`value` is the key itself or its SHA-256 hex digest."""
    return value == identity.key_id or key_id(value) == identity.key_id


async def key_info(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    caller = gateway.keys.authenticate(scope) if not gateway.keys.open else None
    asked = _query(scope).get("key")
    if asked is None:
        if caller is None:
            raise GatewayError(
                400, "Name the key: GET /key/info?key=sk-...", param="key", code=ErrorCode.MISSING_KEY
            )
        principal = caller
    else:
        if caller is not None and not caller.is_master and not _names_key(asked, caller):
            # decided before any lookup: another key and no key at all get the same answer, so a scoped
            # key cannot learn which keys (the master key's digest included) exist
            raise GatewayError(
                403,
                "A key may read only its own info; the master key may read any.",
                type="permission_error",
                code=ErrorCode.NOT_YOUR_KEY,
            )
        principal = _find_key(gateway, asked)
    if principal.generated and gateway.control is not None:
        record = await gateway.control.store.get_key(principal.key_id)
        if record is None:
            raise GatewayError(404, "No such key: it was deleted.", param="key", code=ErrorCode.KEY_NOT_FOUND)
        info = key_api.info(record, gateway.control.spend("key", record.key_id))
        await send_json(send, 200, {"key": record.key_id, "info": info})
        return
    ledger = gateway.ledger
    spend = ledger.spent(principal.key_id) if ledger is not None else None
    info = {
        "key_alias": principal.alias,
        "spend": spend,
        "spend_limit": principal.spend_limit,
        "max_budget": principal.spend_limit,  # LiteLLM's name
        "models": sorted(principal.models),
        "rpm_limit": principal.rpm,
        "tpm_limit": principal.tpm,
        "is_master_key": principal.is_master,
    }
    await send_json(send, 200, {"key": principal.key_id, "info": info})


def _since(value: str | None, name: str = "start_date", end_of_day: bool = False) -> float | None:
    if not value:
        return None
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GatewayError(
            400,
            f"{name} {value!r} is not a date: use 2026-01-31 or 2026-01-31T12:00:00Z",
            param=name,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    if end_of_day and len(value.strip()) == 10:  # a date alone: the whole of that day
        when += datetime.timedelta(days=1, microseconds=-1)
    return when.timestamp()


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat().replace("+00:00", "Z")


def _row(entry: SpendEntry | LedgerEntry) -> dict[str, Any]:
    return {
        "request_id": entry.request_id,
        "api_key": entry.key_id,
        "key_alias": entry.key_alias,
        "team_id": getattr(entry, "team_id", None),
        "user": getattr(entry, "user_id", None),
        "call_type": entry.kind,
        "model": entry.model,
        "model_id": entry.bedrock_model_id,
        "spend": entry.spend,
        "prompt_tokens": entry.prompt_tokens,
        "completion_tokens": entry.completion_tokens,
        "total_tokens": entry.prompt_tokens + entry.completion_tokens,
        "startTime": _iso(entry.start_time),
        "endTime": _iso(entry.end_time),
        # the call was cut short (the client left mid-stream) before Bedrock sent its usage: the tokens and
        # spend are the gateway's estimate of what Bedrock produced
        "usage_estimated": entry.estimated,
    }


async def spend_logs(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    caller = gateway.keys.authenticate(scope) if not gateway.keys.open else None
    _master_only(caller, "GET /spend/logs", gateway)
    ledger = gateway.ledger
    if ledger is None or not ledger.keep_logs:
        raise GatewayError(
            404,
            "Spend logs are off: set general_settings.database_url (or DATABASE_URL) and leave "
            "disable_spend_logs false to keep them.",
            code=ErrorCode.SPEND_LOGS_DISABLED,
        )
    query = _query(scope)
    try:
        limit = min(max(int(query.get("limit", "100")), 1), MAX_LOGS)
    except ValueError:
        raise GatewayError(400, "limit must be a whole number of rows", param="limit") from None
    wanted = query.get("api_key")
    kid = _find_key(gateway, wanted).key_id if wanted else None
    start = _since(query.get("start_date"))
    entries: list[SpendEntry] | list[LedgerEntry]
    if gateway.control is None:
        entries = await ledger.store.logs(key_id=kid, since=start, limit=limit)
    else:
        entries = await gateway.control.store.spend_logs(
            key_id=kid,
            team_id=query.get("team_id"),
            user_id=query.get("user_id"),
            model=query.get("model"),
            start=start,
            end=_since(query.get("end_date"), "end_date", end_of_day=True),
            limit=limit,
        )
    await send_json(send, 200, [_row(entry) for entry in entries])


async def global_spend_report(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """LiteLLM's spend report between start_date and end_date (both required, as LiteLLM's are), from the
    store's daily aggregates, grouped by team (default), customer (user), api_key, model or day."""
    caller = gateway.keys.authenticate(scope) if not gateway.keys.open else None
    _master_only(caller, "GET /global/spend/report", gateway)
    control = gateway.control
    if control is None:
        raise GatewayError(
            404,
            "The spend report needs key management on: general_settings.master_key and a database "
            "(database_url or DATABASE_URL).",
            code=ErrorCode.KEY_MANAGEMENT_OFF,
        )
    query = _query(scope)
    for name in ("start_date", "end_date"):
        if not query.get(name):
            raise GatewayError(400, f"{name} is required, as a date such as 2026-01-31", param=name)
    start = _since(query["start_date"])
    end = _since(query["end_date"], "end_date", end_of_day=True)
    assert start is not None and end is not None
    if end < start:
        raise GatewayError(400, "end_date is before start_date", param="end_date")
    group_by = query.get("group_by", "team")
    try:
        dimensions = report_api.dimensions(group_by)
    except FieldError as error:
        raise GatewayError(400, str(error), param=error.field) from None
    rows = await control.store.spend_report(start=start, end=end, group_by=dimensions)

    def name_of(kind: str, ident: str) -> str:
        if kind == "team" and ident in control.teams:
            return control.teams[ident].team_alias or ident
        if kind == "key" and ident in control.keys:
            return control.keys[ident].key_alias or control.keys[ident].key_name
        identity = gateway.keys.by_key_id(ident) if kind == "key" else None
        return identity.alias if identity is not None else ident

    await send_json(send, 200, report_api.report(rows, group_by, name_of))
