"""LiteLLM's team and user routes: POST /team/new, /team/update, /team/delete, /team/block, /team/unblock,
GET /team/info, /team/list; POST /user/new, /user/update, /user/delete, GET /user/info, /user/list.

Thin: control/team_api.py translates, the ControlStore writes, the key directory applies it at once here.
Deleting a team deletes its keys (a key must not outlive the team whose budget it spent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy.control import key_api, team_api
from bedrock_proxy.control.fields import FieldError
from bedrock_proxy.control.records import KeyRecord, TeamRecord, UserRecord
from bedrock_proxy.control.store import Conflict
from bedrock_proxy.errors import ErrorCode, GatewayError
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
    required,
)

if TYPE_CHECKING:
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext


def _no_team(team_id: str) -> GatewayError:
    return not_found(f"No team {team_id!r}.", "team_id", ErrorCode.TEAM_NOT_FOUND)


def _no_user(user_id: str) -> GatewayError:
    return not_found(f"No user {user_id!r}.", "user_id", ErrorCode.USER_NOT_FOUND)


def _team(control: KeyDirectory, team: TeamRecord) -> dict[str, Any]:
    return team_api.team_body(team, control.spend("team", team.team_id))


def _user(control: KeyDirectory, user: UserRecord) -> dict[str, Any]:
    return team_api.user_body(user, control.spend("user", user.user_id))


def _key(control: KeyDirectory, key: KeyRecord) -> dict[str, Any]:
    return key_api.info(key, control.spend("key", key.key_id))


# ---------------------------------------------------------------------- teams
async def new_team(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    manager(gateway, scope, "POST /team/new")
    control = directory(gateway)
    try:
        team = team_api.new_team(await body(receive, gateway), now())
    except FieldError as error:
        raise invalid(error) from None
    try:
        await control.store.insert_team(team)
    except Conflict as error:
        raise conflict(error) from None
    control.put_team(team)
    await send_json(send, 200, _team(control, team))


async def team_info(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "GET /team/info")
    control = directory(gateway)
    team_id = required(query(scope), "team_id")
    team = await control.store.get_team(team_id)
    if team is None:
        raise _no_team(team_id)
    keys = await control.store.list_keys(team_id=team_id, limit=None)
    await send_json(
        send,
        200,
        {"team_id": team_id, "team_info": _team(control, team), "keys": [_key(control, k) for k in keys]},
    )


async def _update_team(control: KeyDirectory, team_id: str, changes: dict[str, object]) -> TeamRecord:
    try:
        team = await control.store.update_team(team_id, changes)
    except Conflict as error:
        raise conflict(error) from None
    if team is None:
        raise _no_team(team_id)
    control.put_team(team)
    return team


async def update_team(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "POST /team/update")
    control = directory(gateway)
    data = await body(receive, gateway)
    team_id = required(data, "team_id")
    try:
        changes = team_api.team_changes(data, now())
    except FieldError as error:
        raise invalid(error) from None
    team = await _update_team(control, team_id, changes)
    await send_json(send, 200, {"team_id": team_id, "data": _team(control, team)})


async def _set_team_blocked(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, blocked: bool
) -> None:
    manager(gateway, scope, "POST /team/block" if blocked else "POST /team/unblock")
    control = directory(gateway)
    team_id = required(await body(receive, gateway), "team_id")
    team = await _update_team(control, team_id, {"blocked": blocked})
    await send_json(send, 200, _team(control, team))


async def block_team(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    await _set_team_blocked(gateway, scope, receive, send, True)


async def unblock_team(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    await _set_team_blocked(gateway, scope, receive, send, False)


async def delete_teams(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "POST /team/delete")
    control = directory(gateway)
    try:
        team_ids = team_api.named_ids(await body(receive, gateway), "team_ids")
    except FieldError as error:
        raise invalid(error) from None
    keys = [k.key_id for tid in team_ids for k in await control.store.list_keys(team_id=tid, limit=None)]
    deleted = await control.store.delete_teams(team_ids)
    if not deleted:
        raise _no_team(", ".join(team_ids))
    if keys:
        control.drop_keys(await control.store.delete_keys(keys))
    control.drop_teams(deleted)
    await send_json(send, 200, {"deleted_teams": deleted, "deleted_keys": len(keys)})


async def list_teams(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "GET /team/list")
    control = directory(gateway)
    teams = await control.store.list_teams(limit=None)
    await send_json(send, 200, [_team(control, t) for t in teams])


# ---------------------------------------------------------------------- users
async def new_user(gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext) -> None:
    """LiteLLM's /user/new: the user, and (unless auto_create_key is false) a key of theirs, shown once."""
    manager(gateway, scope, "POST /user/new")
    control = directory(gateway)
    data = await body(receive, gateway)
    moment = now()
    try:
        user = team_api.new_user(data, moment)
        make_key = data.get("auto_create_key", True) is not False
        key = key_api.new_key()
        key_body = {
            "user_id": user.user_id,
            "key_alias": data.get("key_alias"),
            "duration": data.get("duration"),
        }
        record = key_api.new_record(key_body, key, moment)
    except FieldError as error:
        raise invalid(error) from None
    try:
        await control.store.insert_user(user)
    except Conflict as error:
        raise conflict(error) from None
    control.put_user(user)
    answer = _user(control, user)
    if make_key:
        try:
            await control.store.insert_key(record)
        except Conflict as error:
            raise conflict(error) from None
        control.put_key(record)
        answer = {"key": key, "token": record.key_id, "key_name": record.key_name, **answer}
    await send_json(send, 200, answer)


async def user_info(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "GET /user/info")
    control = directory(gateway)
    user_id = required(query(scope), "user_id")
    user = await control.store.get_user(user_id)
    if user is None:
        raise _no_user(user_id)
    keys = await control.store.list_keys(user_id=user_id, limit=None)
    teams = sorted({k.team_id for k in keys if k.team_id})
    await send_json(
        send,
        200,
        {
            "user_id": user_id,
            "user_info": _user(control, user),
            "keys": [_key(control, k) for k in keys],
            "teams": teams,
        },
    )


async def update_user(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "POST /user/update")
    control = directory(gateway)
    data = await body(receive, gateway)
    user_id = required(data, "user_id")
    try:
        changes = team_api.user_changes(data, now())
    except FieldError as error:
        raise invalid(error) from None
    user = await control.store.update_user(user_id, changes)
    if user is None:
        raise _no_user(user_id)
    control.put_user(user)
    await send_json(send, 200, _user(control, user))


async def delete_users(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "POST /user/delete")
    control = directory(gateway)
    try:
        user_ids = team_api.named_ids(await body(receive, gateway), "user_ids")
    except FieldError as error:
        raise invalid(error) from None
    deleted = await control.store.delete_users(user_ids)
    if not deleted:
        raise _no_user(", ".join(user_ids))
    control.drop_users(deleted)
    await send_json(send, 200, {"deleted_users": deleted})


async def list_users(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    manager(gateway, scope, "GET /user/list")
    control = directory(gateway)
    users = await control.store.list_users(limit=None)
    await send_json(send, 200, {"users": [_user(control, u) for u in users], "total": len(users)})
