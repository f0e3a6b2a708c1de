"""`bedrock-proxy keys ...`, `bedrock-proxy teams ...` and `bedrock-proxy users ...`: the management API
for operators without an HTTP client at hand.

Two ways to reach it, one behaviour: with --url the command calls a running gateway's routes with the master
key; without it, it opens the config's database itself and runs the very same route handlers in this
process (so a body the API refuses is refused alike, and the same JSON is printed). A running gateway sees a
change made directly within its key directory's refresh delay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, cast

KEYS = """Manage generated API keys (LiteLLM's /key/* routes): create prints the key once. With --url,
through a running gateway and its master key; without, directly in the database of --config. Exit codes: 0 on
success; 1 when the gateway or the database refused (the error is printed)."""
TEAMS = """Manage teams (LiteLLM's /team/* routes), whose budget their keys share. With --url, through a
running gateway and its master key; without, directly in the database of --config. Exit codes: 0 on success; 1
when the gateway or the database refused (the error is printed)."""
USERS = """Manage users (LiteLLM's /user/* routes), whose budget and limits their keys share: create prints
the user's first key once (unless --no-key). With --url, through a running gateway and its master key;
without, directly in the database of --config. Exit codes: 0 on success; 1 when the gateway or the database
refused (the error is printed)."""

# (option, body field, type): the options create and update share
_FIELDS: tuple[tuple[str, str, Any, str], ...] = (
    ("--models", "models", "list", "comma-separated model names the key may call (default: every model)"),
    ("--max-budget", "max_budget", float, "USD per budget period (for life without --budget-duration)"),
    ("--soft-budget", "soft_budget", float, "USD past which an alert is sent (calls still pass)"),
    ("--budget-duration", "budget_duration", str, "budget period: 30s, 10m, 1h, 1d, 30d, 1mo"),
    ("--rpm", "rpm_limit", int, "requests per minute"),
    ("--tpm", "tpm_limit", int, "tokens per minute"),
    ("--max-parallel", "max_parallel_requests", int, "requests in flight at once"),
)


def add_commands(commands: Any, config_help: str) -> None:
    """The `keys` and `teams` sub-commands, on the top-level parser's subparsers."""
    keys = commands.add_parser(
        "keys", help="create, list, change and delete generated keys", description=KEYS
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="generate a key (printed once)")
    _fields(create, key=True)
    listing = actions.add_parser("list", help="the keys")
    listing.add_argument("--team-id", default=None, help="only this team's keys")
    info = actions.add_parser("info", help="one key: its limits and spend")
    info.add_argument("key", help="the key (sk-...) or its token")
    update = actions.add_parser("update", help="change a key")
    update.add_argument("key", help="the key (sk-...) or its token")
    _fields(update, key=True)
    update.add_argument("--block", action="store_true", default=None, help="refuse the key until unblocked")
    update.add_argument("--unblock", action="store_true", default=None, help="let a blocked key in again")
    delete = actions.add_parser("delete", help="delete keys")
    delete.add_argument("keys", nargs="+", help="keys (sk-...) or tokens")

    teams = commands.add_parser("teams", help="create, list and delete teams", description=TEAMS)
    team_actions = teams.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = team_actions.add_parser("create", help="create a team")
    new.add_argument("--team-id", default=None, help="its id (default: a new UUID)")
    new.add_argument("--alias", default=None, help="its display name (team_alias)")
    _fields(new, key=False)
    team_list = team_actions.add_parser("list", help="the teams")
    team_info = team_actions.add_parser("info", help="one team: its budget, spend and keys")
    team_info.add_argument("team_id", help="the team's id")
    team_delete = team_actions.add_parser("delete", help="delete teams and their keys")
    team_delete.add_argument("team_ids", nargs="+", help="the teams' ids")

    users = commands.add_parser("users", help="create, list and delete users", description=USERS)
    user_actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    user_new = user_actions.add_parser("create", help="create a user (and a key of theirs, printed once)")
    user_new.add_argument("--user-id", default=None, help="their id (default: a new UUID)")
    user_new.add_argument("--email", default=None, help="their email (user_email)")
    user_new.add_argument("--role", default=None, help="user_role: proxy_admin, internal_user (default)...")
    user_new.add_argument("--no-key", action="store_true", help="make no key for the user")
    _fields(user_new, key=False)
    user_list = user_actions.add_parser("list", help="the users")
    user_info = user_actions.add_parser("info", help="one user: their budget, spend, keys and teams")
    user_info.add_argument("user_id", help="the user's id")
    user_delete = user_actions.add_parser("delete", help="delete users")
    user_delete.add_argument("user_ids", nargs="+", help="the users' ids")

    for sub in (
        create,
        listing,
        info,
        update,
        delete,
        new,
        team_list,
        team_info,
        team_delete,
        user_new,
        user_list,
        user_info,
        user_delete,
    ):
        _target(sub, config_help)


def _fields(parser: argparse.ArgumentParser, *, key: bool) -> None:
    for option, _, kind, text in _FIELDS:
        parser.add_argument(option, type=str if kind == "list" else kind, default=None, help=text)
    if key:
        parser.add_argument("--alias", default=None, help="a display name for the key (key_alias)")
        parser.add_argument(
            "--duration", default=None, help="how long the key works: 30d, 1h... (default: ever)"
        )
        parser.add_argument("--team-id", default=None, help="the team whose budget and models the key shares")
        parser.add_argument("--user-id", default=None, help="the user whose budget the key counts against")


def _target(parser: argparse.ArgumentParser, config_help: str) -> None:
    parser.add_argument("--url", default=None, help="a running gateway, e.g. http://127.0.0.1:4002")
    parser.add_argument(
        "--master-key", default=None, help="with --url (default: env LITELLM_MASTER_KEY, else the config's)"
    )
    parser.add_argument("--config", default="config.yaml", help=config_help)


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for option, name, kind, _ in _FIELDS:
        value = getattr(args, option[2:].replace("-", "_"), None)
        if value is not None:
            body[name] = [m.strip() for m in value.split(",") if m.strip()] if kind == "list" else value
    for attribute, name in (
        ("alias", "key_alias" if args.command == "keys" else "team_alias"),
        ("duration", "duration"),
        ("team_id", "team_id"),
        ("user_id", "user_id"),
    ):
        value = getattr(args, attribute, None)
        if value is not None:
            body[name] = value
    for attribute, name in (("email", "user_email"), ("role", "user_role")):
        value = getattr(args, attribute, None)
        if value is not None:
            body[name] = value
    if getattr(args, "no_key", False):
        body["auto_create_key"] = False
    if getattr(args, "block", None):
        body["blocked"] = True
    if getattr(args, "unblock", None):
        body["blocked"] = False
    return body


def request_of(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path with its query, body) of the route the command line names."""
    if args.command == "keys":
        if args.action == "create":
            return "POST", "/key/generate", _body(args)
        if args.action == "list":
            query = {"return_full_object": "true", "size": "100"}
            if args.team_id:
                query["team_id"] = args.team_id
            return "GET", f"/key/list?{urllib.parse.urlencode(query)}", None
        if args.action == "info":
            return "GET", f"/key/info?{urllib.parse.urlencode({'key': args.key})}", None
        if args.action == "update":
            return "POST", "/key/update", {"key": args.key, **_body(args)}
        return "POST", "/key/delete", {"keys": args.keys}
    if args.command == "users":
        return _user_request(args)
    if args.action == "create":
        return "POST", "/team/new", _body(args)
    if args.action == "list":
        return "GET", "/team/list", None
    if args.action == "info":
        return "GET", f"/team/info?{urllib.parse.urlencode({'team_id': args.team_id})}", None
    return "POST", "/team/delete", {"team_ids": args.team_ids}


def _user_request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.action == "create":
        return "POST", "/user/new", _body(args)
    if args.action == "list":
        return "GET", "/user/list", None
    if args.action == "info":
        return "GET", f"/user/info?{urllib.parse.urlencode({'user_id': args.user_id})}", None
    return "POST", "/user/delete", {"user_ids": args.user_ids}


def _over_http(
    url: str, master_key: str, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


async def _in_process(
    config_path: str, method: str, path: str, body: dict[str, Any] | None
) -> tuple[int, Any]:
    """The route's own handler, run here against the config's database (no gateway needed)."""
    from bedrock_proxy.config import load_config
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.control.location import store_for_url
    from bedrock_proxy.errors import GatewayError
    from bedrock_proxy.server.app import ROUTES
    from bedrock_proxy.server.auth import KeyRing
    from bedrock_proxy.server.context import RequestContext
    from bedrock_proxy.server.http import Message
    from bedrock_proxy.wiring import key_management_url

    settings = load_config(config_path).settings
    url = key_management_url(settings, os.environ)
    if url is None:
        raise SystemExit(
            "key management needs general_settings.master_key and a database (database_url or DATABASE_URL)"
        )
    directory = KeyDirectory(store_for_url(url), refresh_seconds=3600)
    await directory.start()
    master = cast(str, settings.master_key)
    gateway = argparse.Namespace(
        control=directory,
        keys=KeyRing(master, [], generated=directory),
        max_json_depth=settings.max_json_depth,
        ledger=None,
    )
    route, _, query = path.partition("?")
    handler = ROUTES[(method, route)][0]
    scope = {
        "type": "http",
        "method": method,
        "path": route,
        "query_string": query.encode(),
        "headers": [(b"authorization", f"Bearer {master}".encode())],
    }
    answer: dict[str, Any] = {}
    sent = False

    async def receive() -> Message:
        nonlocal sent
        payload = b"" if sent or body is None else json.dumps(body).encode()
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] = json.loads(message["body"])

    try:
        await handler(cast(Any, gateway), scope, receive, send, RequestContext("cli"))
    except GatewayError as error:
        return error.status, error.to_dict()
    finally:
        await directory.aclose()
    return answer["status"], answer["body"]


def run_from_args(args: argparse.Namespace) -> int:
    method, path, body = request_of(args)
    if args.url:
        master = args.master_key or os.environ.get("LITELLM_MASTER_KEY") or _configured_master(args.config)
        if not master:
            print("give the master key: --master-key, or env LITELLM_MASTER_KEY", file=sys.stderr)
            return 1
        status, answer = _over_http(args.url, master, method, path, body)
    else:
        status, answer = asyncio.run(_in_process(args.config, method, path, body))
    print(json.dumps(answer, indent=2))
    return 0 if status < 400 else 1


def _configured_master(config_path: str) -> str | None:
    if not os.path.exists(config_path):
        return None
    from bedrock_proxy.config import load_config

    return load_config(config_path).settings.master_key
