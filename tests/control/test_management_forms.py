"""LiteLLM's path form of /key/regenerate, the `users` CLI, and key management with disable_spend_logs: real
gateway processes on SQLite (the storage is not the point here), the OpenAI SDK for what a key may do."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import openai

from tests.control.keys_support import CONFIG, ask, call, generate, keyed_gateway
from tests.control.test_keys_stored import _cli
from tests.e2e.support import MASTER_KEY

TINY = 0.000001  # USD: one emulated answer costs more


def test_regenerate_by_path_replaces_the_key_with_or_without_a_body(
    tmp_path: Path, emulator_url: str
) -> None:
    with keyed_gateway(tmp_path, emulator_url, f"sqlite:///{tmp_path}/keys.db") as gw:
        made = generate(gw.url, key_alias="rotating", models=["claude-3-haiku"])
        old = made["key"]
        status, fresh = call(gw.url, "POST", f"/key/{old}/regenerate")  # LiteLLM's form, no body
        assert status == 200 and fresh["key"] != old and fresh["key_alias"] == "rotating", fresh
        assert isinstance(ask(gw.url, old), openai.AuthenticationError)
        assert not isinstance(ask(gw.url, fresh["key"]), openai.APIStatusError)

        # by its token, choosing the new key, and changing a setting on the way
        chosen = "sk-chosen-by-the-caller-0001"
        status, again = call(
            gw.url, "POST", f"/key/{fresh['token']}/regenerate", {"new_key": chosen, "max_budget": 5}
        )
        assert status == 200 and again["key"] == chosen and again["max_budget"] == 5.0, again
        assert not isinstance(ask(gw.url, chosen), openai.APIStatusError)

        status, error = call(gw.url, "POST", f"/key/{chosen}/regenerate", {"key": "sk-another-key-0002"})
        assert status == 400 and error["error"]["param"] == "key", error
        status, error = call(gw.url, "POST", f"/key/{urllib.parse.quote('sk-never-made-0003')}/regenerate")
        assert status == 404 and error["error"]["code"] == "key_not_found", error
        status, error = call(gw.url, "POST", f"/key/{chosen}/regenerate", key=chosen)
        assert status == 403, error  # only the master key (or a proxy_admin's key) manages
        status, error = call(gw.url, "POST", "/key/abc/rotate")
        assert status == 404 and error["error"]["code"] == "not_found", error


def test_the_users_cli_creates_lists_shows_and_deletes_users(tmp_path: Path, emulator_url: str) -> None:
    config = tmp_path / "cli-config.yaml"
    config.write_text(CONFIG)
    database = f"sqlite:///{tmp_path}/users.db"
    env = {"DATABASE_URL": database}
    code, made = _cli(
        "users", "create", "--email", "ana@example.com", "--max-budget", "5", "--rpm", "30",
        "--config", str(config), env=env,
    )  # fmt: skip
    assert code == 0 and isinstance(made, dict) and made["key"].startswith("sk-"), made
    assert made["user_email"] == "ana@example.com" and made["max_budget"] == 5.0 and made["rpm_limit"] == 30
    code, refused = _cli("users", "create", "--role", "emperor", "--config", str(config), env=env)
    assert code == 1 and isinstance(refused, dict) and refused["error"]["param"] == "user_role"
    with keyed_gateway(tmp_path, emulator_url, database) as gw:
        assert not isinstance(ask(gw.url, made["key"]), openai.APIStatusError)
        master = {"LITELLM_MASTER_KEY": MASTER_KEY}
        code, keyless = _cli("users", "create", "--user-id", "bo", "--no-key", "--url", gw.url, env=master)
        assert code == 0 and isinstance(keyless, dict) and "key" not in keyless and keyless["user_id"] == "bo"
        code, listed = _cli("users", "list", "--url", gw.url, env=master)
        assert code == 0 and isinstance(listed, dict) and listed["total"] == 2
        code, info = _cli("users", "info", made["user_id"], "--url", gw.url, env=master)
        assert code == 0 and isinstance(info, dict) and len(info["keys"]) == 1
        assert info["user_info"]["user_email"] == "ana@example.com"
        code, gone = _cli("users", "delete", "bo", made["user_id"], "--url", gw.url, env=master)
        assert code == 0 and isinstance(gone, dict) and set(gone["deleted_users"]) == {"bo", made["user_id"]}
        code, missing = _cli("users", "info", "bo", "--config", str(config), env=env)
        assert code == 1 and isinstance(missing, dict) and missing["error"]["code"] == "user_not_found"


def test_key_management_and_budgets_stay_on_with_disable_spend_logs(
    tmp_path: Path, emulator_url: str
) -> None:
    config = CONFIG.replace("general_settings:\n", "general_settings:\n  disable_spend_logs: true\n")
    with keyed_gateway(tmp_path, emulator_url, f"sqlite:///{tmp_path}/quiet.db", config) as gw:
        key = generate(gw.url, max_budget=TINY, key_alias="frugal")["key"]
        assert not isinstance(ask(gw.url, key), openai.APIStatusError)
        refused = ask(gw.url, key)
        assert isinstance(refused, openai.RateLimitError) and "key budget of key 'frugal'" in refused.message
        status, info = call(gw.url, "GET", f"/key/info?key={key}")
        assert status == 200 and info["info"]["spend"] > TINY  # the spend was recorded
        status, logs = call(gw.url, "GET", "/spend/logs")
        assert status != 200 or logs == []  # but no per-request rows are kept
