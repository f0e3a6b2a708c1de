"""LiteLLM's key management routes: POST /key/generate, /key/update, /key/delete, /key/regenerate,
/key/block, /key/unblock and GET /key/list (GET /key/info is in spend_routes.py, for config keys too).

Thin: the body is translated by control/key_api.py, written by the ControlStore, and applied at once to
this process's key directory (other processes see it within the directory's refresh delay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy.control import key_api
from bedrock_proxy.control.fields import FieldError, check_known
from bedrock_proxy.control.records import KeyRecord, TeamRecord
from bedrock_proxy.control.store import Conflict
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.keys import key_id, outside
from bedrock_proxy.server.http import Receive, Scope, Send, send_json
from bedrock_proxy.server.management import (
    body,
    conflict,
    directory,
    invalid,
    manager,
    not_found,
    now,
    optional_body,
    query,
)

if TYPE_CHECKING:
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext

MAX_PAGE_SIZE = 100
# POST /key/{key}/regenerate: the path around the key
REGENERATE_PREFIX = "/key/"
REGENERATE_SUFFIX = "/regenerate"


async def _team(control: KeyDirectory, team_id: object) -> TeamRecord | None:
    """The key's team (400 naming team_id when it does not exist); None for a key outside any team."""
    if not isinstance(team_id, str):
        return None
    team = control.teams.get(team_id) or await control.store.get_team(team_id)
    if team is None:
        raise GatewayError(
            400,
            f"team_id {team_id!r} does not exist: create the team first with POST /team/new.",
            param="team_id",
            code=ErrorCode.TEAM_NOT_FOUND,
        )
    return team


def _within_team(models: tuple[str, ...], team: TeamRecord | None) -> None:
    """400 naming the models a key would be given that its team may not use (LiteLLM checks a key's models
    against its team's; a key is never let past its team's list)."""
    if team is None:
        return
    refused = outside(models, team.models)
    if refused:
        raise GatewayError(
            400,
            f"models {refused} are not among the models of team '{team.team_alias or team.team_id}' "
            f"({', '.join(team.models)}): a key in a team may only be given models its team may use. "
            "Leave models out (the key then takes its team's), or add them to the team (POST /team/update).",
            param="models",
            code=ErrorCode.MODELS_OUTSIDE_TEAM,
        )


async def _check_changes(control: KeyDirectory, kid: str, changes: dict[str, object]) -> None:
    """The team and models a key would have after `changes`: the team exists, the models are its team's."""
    if "team_id" not in changes and "models" not in changes:
        return
    current = control.keys.get(kid) or await control.store.get_key(kid)
    if current is None:
        return  # the update answers 404
    team_id = changes.get("team_id", current.team_id)
    models = changes.get("models", current.models)
    team = await _team(control, team_id)
    _within_team(tuple(models) if isinstance(models, (list, tuple)) else (), team)


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
    _within_team(record.models, await _team(control, record.team_id))
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
    await _check_changes(control, kid, changes)
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
    """POST /key/regenerate {"key": ...}: a new key in place of the old one (which stops working at once),
    keeping its settings and spend."""
    manager(gateway, scope, "POST /key/regenerate")
    data = await body(receive, gateway)
    await _regenerate(gateway, send, data, data.get("key"))


async def regenerate_named(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    """POST /key/{key}/regenerate, LiteLLM's path form: the key (or its token) in the path, the body
    optional (new_key, or any update field)."""
    manager(gateway, scope, "POST /key/{key}/regenerate")
    named = scope["path"].rstrip("/")[len(REGENERATE_PREFIX) : -len(REGENERATE_SUFFIX)]
    data = await optional_body(receive, gateway)
    sent = data.pop("key", None)
    if sent is not None and sent != named:
        raise GatewayError(
            400, "The body names another key than the path: name the key once, in the path.", param="key"
        )
    await _regenerate(gateway, send, data, named)


async def _regenerate(gateway: Gateway, send: Send, data: dict[str, Any], named: object) -> None:
    control = directory(gateway)
    try:
        check_known(data, key_api.REGENERATE_FIELDS, "POST /key/regenerate")
        old = key_api.named_key(named)
        key = key_api.chosen_key(data, "new_key")
        changes = key_api.update_changes(data, now())
    except FieldError as error:
        raise invalid(error) from None
    await _check_changes(control, old, changes)
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
