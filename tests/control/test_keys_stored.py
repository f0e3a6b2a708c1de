"""What the database holds: never a plaintext key (files and dumps); what the spend routes report from it;
and the CLI, as a subprocess, against a gateway and against the database directly."""

from __future__ import annotations

import datetime
import glob
import json
import subprocess
import sys
from pathlib import Path

import openai

from tests.control.keys_support import CONFIG, ask, call, generate, keyed_gateway
from tests.control.support import dump
from tests.e2e.support import MASTER_KEY, eventually
from tests.support.processes import clean_env


def _database_text(database_url: str) -> bytes:
    """Everything the database holds: the SQLite file (and its WAL) byte for byte, a pg_dump of a PostgreSQL
    database, every row of a MariaDB one."""
    if database_url.startswith("sqlite:///"):
        path = database_url[len("sqlite:///") :]
        return b"".join(Path(p).read_bytes() for p in glob.glob(f"{path}*"))
    if database_url.startswith("postgres"):
        pg_dump = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]
        return subprocess.run([pg_dump, database_url], capture_output=True, check=True, timeout=60).stdout
    return dump(database_url).encode()


def test_the_database_never_holds_a_plaintext_key(
    tmp_path: Path, emulator_url: str, database_url: str
) -> None:
    with keyed_gateway(tmp_path, emulator_url, database_url) as gw:
        keys = [generate(gw.url, key_alias=f"k{i}")["key"] for i in range(3)]
        status, made = call(gw.url, "POST", "/user/new", {"user_email": "ana@example.com"})
        assert status == 200
        keys.append(made["key"])
        status, rotated = call(gw.url, "POST", "/key/regenerate", {"key": keys[0]})
        keys.append(rotated["key"])
        for key in keys[1:]:
            assert not isinstance(ask(gw.url, key), openai.APIStatusError)
        eventually(lambda: call(gw.url, "GET", "/spend/logs")[1], message="spend rows never written")
    held = _database_text(database_url)
    assert b"ana@example.com" in held  # the dump is real
    for key in keys:
        assert key.encode() not in held and key[3:].encode() not in held


def test_spend_logs_and_the_global_report_by_team(
    tmp_path: Path, emulator_url: str, database_url: str
) -> None:
    with keyed_gateway(tmp_path, emulator_url, database_url) as gw:
        _, team = call(gw.url, "POST", "/team/new", {"team_alias": "search"})
        key = generate(gw.url, team_id=team["team_id"])["key"]
        assert not isinstance(ask(gw.url, key), openai.APIStatusError)
        logs = eventually(lambda: call(gw.url, "GET", f"/spend/logs?team_id={team['team_id']}")[1])
        assert len(logs) == 1 and logs[0]["team_id"] == team["team_id"] and logs[0]["spend"] > 0
        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        status, report = call(gw.url, "GET", f"/global/spend/report?start_date={today}&end_date={today}")
        assert status == 200, report
        assert report[0]["group_by_day"] == today
        teams = {t["team_name"]: t for t in report[0]["teams"]}
        assert teams["search"]["total_spend"] == logs[0]["spend"]
        assert teams["search"]["metadata"][0]["model"] == "claude-3-haiku"
        status, error = call(gw.url, "GET", f"/global/spend/report?start_date={today}")
        assert status == 400 and error["error"]["param"] == "end_date"


def _cli(*args: str, env: dict[str, str]) -> tuple[int, object]:
    done = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", *args],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"not JSON ({done.returncode}): {done.stdout}\n{done.stderr}") from None


def test_the_cli_manages_keys_through_a_gateway_and_directly(
    tmp_path: Path, emulator_url: str, database_url: str
) -> None:
    config = tmp_path / "cli-config.yaml"
    config.write_text(CONFIG)
    env = {"DATABASE_URL": database_url}
    # straight into the database, no gateway running
    code, team = _cli(
        "teams", "create", "--alias", "ops", "--max-budget", "5", "--config", str(config), env=env
    )
    assert code == 0 and isinstance(team, dict) and team["team_alias"] == "ops"
    code, made = _cli(
        "keys", "create", "--alias", "cli-key", "--team-id", team["team_id"], "--config", str(config), env=env
    )
    assert code == 0 and isinstance(made, dict) and made["key"].startswith("sk-")
    code, refused = _cli("keys", "create", "--max-budget", "-1", "--config", str(config), env=env)
    assert code == 1 and isinstance(refused, dict) and refused["error"]["param"] == "max_budget"
    with keyed_gateway(tmp_path, emulator_url, database_url) as gw:
        assert not isinstance(ask(gw.url, made["key"]), openai.APIStatusError)
        master = {"LITELLM_MASTER_KEY": MASTER_KEY}
        code, listed = _cli("keys", "list", "--url", gw.url, env=master)
        assert code == 0 and isinstance(listed, dict) and listed["total_count"] == 1
        code, info = _cli("keys", "info", made["key"], "--url", gw.url, env=master)
        assert code == 0 and isinstance(info, dict) and info["info"]["key_alias"] == "cli-key"
        code, _ = _cli("keys", "update", made["key"], "--block", "--url", gw.url, env=master)
        assert code == 0 and isinstance(ask(gw.url, made["key"]), openai.AuthenticationError)
        code, gone = _cli("teams", "delete", team["team_id"], "--url", gw.url, env=master)
        assert code == 0 and isinstance(gone, dict) and gone["deleted_keys"] == 1
        code, teams = _cli("teams", "list", "--url", gw.url, env=master)
        assert code == 0 and teams == []
