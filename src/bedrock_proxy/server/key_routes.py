"""LiteLLM's key management routes: POST /key/generate, /key/update, /key/delete, /key/regenerate,
/key/block, /key/unblock and GET /key/list (GET /key/info is in spend_routes.py, for config keys too).

Thin: the body is translated by control/key_api.py, written by the ControlStore, and applied at once to
this process's key directory (other processes see it within the directory's refresh delay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy.control import key_api
from bedrock_proxy.control.fields import FieldError, check_known
from bedrock_proxy.control.records import KeyRecord
from bedrock_proxy.control.store import Conflict
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import key_id
from bedrock_proxy.server.http import Receive, Scope, Send, send_json
from bedrock_proxy.server.management import (
    body,
    conflict,
    directory,
    invalid,
    manager,
    not_found,
    now,
    query,
)

if TYPE_CHECKING:
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext

MAX_PAGE_SIZE = 100


async def _team_exists(control: KeyDirectory, team_id: object) -> None:
    if not isinstance(team_id, str) or team_id in control.teams:
        return
    if await control.store.get_team(team_id) is None:
        raise GatewayError(
            400,
            f"team_id {team_id!r} does not exist: create the team first with POST /team/new.",
            param="team_id",
            code=ErrorCode.TEAM_NOT_FOUND,
        )


def _no_key(param: str = "key") -> GatewayError:
    return not_found(
        "No such key: it was never generated here, or it was deleted.", param, ErrorCode.KEY_NOT_FOUND
    )


def _key_conflict(error: Conflict) -> GatewayError:
    if error.field == "key_id":  # the caller chose a key that exists: never echo it
        return GatewayError(
            400, "That key already exists: choose another.", param="key", code=ErrorCode.ALREADY_EXISTS
        )
    return conflict(error)


async def generate(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    manager(gateway, scope, "POST /key/generate")
    control = directory(gateway)
    data = await body(receive, gateway)
    try:
        key = key_api.chosen_key(data)
        record = key_api.new_record(data, key, now())
    except FieldError as error:
        raise invalid(error) from None
    await _team_exists(control, record.team_id)
    try:
        await control.store.insert_key(record)
    except Conflict as error:
        raise _key_conflict(error) from None
    control.put_key(record)
    await send_json(send, 200, key_api.generated(record, key))


async def _update(control: KeyDirectory, kid: str, changes: dict[str, object]) -> KeyRecord:
    try:
        record = await control.store.update_key(kid, changes)
    except Conflict as error:
        raise _key_conflict(error) from None
    if record is None:
        raise _no_key()
    control.put_key(record)
    return record


def _info(control: KeyDirectory, record: KeyRecord) -> dict[str, Any]:
    return {"key": record.key_id, **key_api.info(record, control.spend("key", record.key_id))}


async def update(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    manager(gateway, scope, "POST /key/update")
    control = directory(gateway)
    data = await body(receive, gateway)
    try:
        check_known(data, key_api.UPDATE_FIELDS, "POST /key/update")
        kid = key_api.named_key(data.get("key"))
        changes = key_api.update_changes(data, now())
    except FieldError as error:
        raise invalid(error) from None
    if "team_id" in changes:
        await _team_exists(control, changes["team_id"])
    record = await _update(control, kid, changes)
    await send_json(send, 200, _info(control, record))


async def _set_blocked(gateway: Gateway, scope: Scope, receive: Receive, send: Send, blocked: bool) -> None:
    manager(gateway, scope, "POST /key/block" if blocked else "POST /key/unblock")
    control = directory(gateway)
    data = await body(receive, gateway)
    try:
        kid = key_api.named_key(data.get("key"))
    except FieldError as error:
        raise invalid(error) from None
    record = await _update(control, kid, {"blocked": blocked})
    await send_json(send, 200, _info(control, record))


async def block(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    await _set_blocked(gateway, scope, receive, send, True)


async def unblock(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    await _set_blocked(gateway, scope, receive, send, False)


async def delete(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    manager(gateway, scope, "POST /key/delete")
    control = directory(gateway)
    data = await body(receive, gateway)
    named: dict[str, str] = {}  # key_id -> what the caller sent
    try:
        aliases = data.get("key_aliases")
        if aliases is not None:
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise FieldError("key_aliases", "key_aliases must be a list of key aliases")
            by_alias = {r.key_alias: r.key_id for r in await control.store.list_keys(limit=None)}
            named.update({by_alias[a]: a for a in aliases if a in by_alias})
        if data.get("keys") is not None or aliases is None:
            for kid, sent in zip(key_api.named_keys(data), data["keys"], strict=True):
                named[kid] = sent
    except FieldError as error:
        raise invalid(error) from None
    deleted = await control.store.delete_keys(list(named))
    control.drop_keys(deleted)
    if not deleted:
        raise _no_key("keys")
    await send_json(send, 200, {"deleted_keys": [named[kid] for kid in deleted]})


def _page(values: dict[str, str], name: str, default: int, most: int | None = None) -> int:
    raw = values.get(name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise GatewayError(400, f"{name} must be a whole number, not {raw!r}", param=name) from None
    if number < 1 or (most is not None and number > most):
        limit = f" and at most {most}" if most is not None else ""
        raise GatewayError(400, f"{name} must be at least 1{limit}, not {number}", param=name)
    return number


async def list_keys(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "GET /key/list")
    control = directory(gateway)
    values = query(scope)
    page = _page(values, "page", 1)
    size = _page(values, "size", 10, MAX_PAGE_SIZE)
    records = await control.store.list_keys(
        team_id=values.get("team_id"), user_id=values.get("user_id"), limit=None
    )
    alias = values.get("key_alias")
    if alias is not None:
        records = [r for r in records if r.key_alias == alias]
    shown = records[(page - 1) * size : page * size]
    full = values.get("return_full_object", "false").lower() == "true"
    await send_json(
        send,
        200,
        {
            "keys": [_info(control, r) if full else r.key_id for r in shown],
            "total_count": len(records),
            "current_page": page,
            "total_pages": max(1, -(-len(records) // size)),
        },
    )


async def regenerate(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """A new key in place of the old one (which stops working at once), keeping its settings and spend."""
    manager(gateway, scope, "POST /key/regenerate")
    control = directory(gateway)
    data = await body(receive, gateway)
    try:
        check_known(data, key_api.REGENERATE_FIELDS, "POST /key/regenerate")
        old = key_api.named_key(data.get("key"))
        key = key_api.chosen_key(data, "new_key")
        changes = key_api.update_changes(data, now())
    except FieldError as error:
        raise invalid(error) from None
    try:
        record = await control.store.rekey(old, key_id(key), key_api.key_name(key))
    except Conflict as error:
        raise _key_conflict(error) from None
    if record is None:
        raise _no_key()
    control.drop_keys([old])
    control.put_key(record)
    if changes:
        record = await _update(control, record.key_id, changes)
    await send_json(send, 200, key_api.generated(record, key))
