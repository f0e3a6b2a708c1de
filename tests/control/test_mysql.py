"""MySQL / MariaDB end to end: a mysql:// database_url is accepted by the config, used by the ledger and two
real gateway processes, and every way it can be unusable stops start-up (and fails doctor) naming the
database and the fix, never the password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bedrock_proxy.config import inspect_config
from bedrock_proxy.config.schema import ApiKey, Settings
from bedrock_proxy.control.sqlstore import SqlControlStore
from bedrock_proxy.doctor import FAIL, OK, check_database
from bedrock_proxy.keys import key_id
from bedrock_proxy.spend import SpendEntry, SpendStoreError, plan_ledger
from tests.control.mariadb_server import PASSWORD, USER, MariadbServer
from tests.control.support import query, tables
from tests.e2e.support import eventually, gateway
from tests.spend.test_budgets import (
    CONFIG,
    LIMIT,
    ROOMY,
    TINY,
    ask,
    assert_budget_refusal,
    get,
    spend_until_refused,
)
from tests.support.processes import free_port, serve_until_it_exits


def settings(url: str) -> Settings:
    return Settings(api_keys=[ApiKey(key="sk-a", spend_limit=1.0)], database_url=url)


def test_a_mysql_url_is_accepted_by_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    for url in ("mysql://u:p@db:3306/litellm", "mariadb://u:p@db/litellm", "mysql+mysqlconnector://u@db/x"):
        path.write_text(f"model_list: []\ngeneral_settings:\n  database_url: {url}\n")
        config = inspect_config(str(path), {})
        assert not [i for i in config.issues if i.path == "general_settings.database_url"], url
        assert config.settings.database_url == url


def test_the_ledger_goes_to_mysql_and_its_tables_are_made_at_start_up(mysql_url: str) -> None:
    plan = plan_ledger(settings(mysql_url), {})
    assert plan is not None and isinstance(plan.store, SqlControlStore)
    assert plan.store.database.dialect.name == "mysql"
    assert PASSWORD not in plan.url and plan.url.endswith(mysql_url.split("@", 1)[1])
    assert {"spend_logs", "key_spend", "control_keys", "spend_daily"} <= set(tables(mysql_url))

    async def scenario() -> None:
        store = plan.store
        await store.open()
        await store.record([SpendEntry("r1", key_id("sk-a"), "a", "m", "x", 0.25, 1, 2, 1.0, 2.0)])
        assert await store.totals() == {key_id("sk-a"): 0.25}
        await store.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("case", "port", "database", "password", "fix"),
    [
        ("nothing listens", "closed", "litellm", PASSWORD, "start MySQL / MariaDB"),
        ("wrong password", "server", "litellm", "not-the-password", "password in DATABASE_URL"),
        ("no such database", "server", "litellm", PASSWORD, "CREATE DATABASE litellm"),
    ],
)
def test_a_mysql_database_that_cannot_be_used_stops_start_up_and_fails_doctor_naming_it(
    case: str, port: str, database: str, password: str, fix: str, mariadb: MariadbServer
) -> None:
    number = free_port() if port == "closed" else mariadb.port
    url = mariadb.url(database, password=password, port=number)
    with pytest.raises(SpendStoreError) as raised:
        plan_ledger(settings(url), {})
    message = str(raised.value)
    assert f"{USER}@127.0.0.1:{number}/{database}" in message, case
    assert fix in message, case
    assert password not in message and "spend_limit" in message, case
    [doctor] = check_database(inspect_config_with(url))
    assert doctor.status == FAIL, case
    assert fix.split()[0].lower() in (doctor.detail + doctor.fix).lower(), (case, doctor)
    assert password not in doctor.detail + doctor.fix, case


def test_doctor_passes_a_mysql_database_it_can_log_in_to(mysql_url: str) -> None:
    [doctor] = check_database(inspect_config_with(mysql_url))
    assert doctor.status == OK and "accepts this user and database" in doctor.detail
    assert PASSWORD not in doctor.detail


def inspect_config_with(url: str):  # type: ignore[no-untyped-def]
    config = inspect_config("/nonexistent.yaml", {})
    config.settings.database_url = url
    return config


async def test_a_killed_connection_is_reopened_on_the_next_call(
    mariadb: MariadbServer, mysql_url: str
) -> None:
    plan = plan_ledger(settings(mysql_url), {})
    assert plan is not None
    store = plan.store
    await store.open()
    await store.record([SpendEntry("r1", "k", "a", "m", "x", 0.5, 1, 1, 1.0, 2.0)])
    database = mysql_url.rsplit("/", 1)[1]
    admin = mariadb.admin()
    try:  # as a server restart or a failover does to every client
        cursor = admin.cursor()
        cursor.execute("SELECT id FROM information_schema.processlist WHERE db = %s", (database,))
        for (thread,) in cursor.fetchall():
            cursor.execute(f"KILL {int(thread)}")
    finally:
        admin.close()
    await store.record([SpendEntry("r2", "k", "a", "m", "x", 0.25, 1, 1, 1.0, 2.0)])
    assert await store.totals() == {"k": 0.75}
    await store.close()


def test_two_gateways_on_one_mariadb_database_share_budgets(
    emulator_url: str, mysql_url: str, tmp_path: Path
) -> None:
    shared = {
        "DATABASE_URL": mysql_url,
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
        "BEDROCK_PROXY_SPEND_REFRESH_SECONDS": "0.2",
    }
    with (
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as first,
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as second,
    ):
        answered, refusal = spend_until_refused(first.url, TINY)
        assert answered >= 2
        assert_budget_refusal(refusal)
        eventually(lambda: ask(second.url, TINY).status == 429, message="the second gateway kept answering")
        cost = float(ask(second.url, ROOMY).headers["x-litellm-response-cost"])
        eventually(
            lambda: get(f"{first.url}/key/info?key={ROOMY}", ROOMY)[1]["info"]["spend"] >= cost,
            message="the first gateway never saw the second's spend",
        )
        outputs = first.output() + second.output()
    [(stored,)] = query(mysql_url, "SELECT spend FROM key_spend WHERE key_id = ?", (key_id(TINY),))
    assert stored >= LIMIT
    assert PASSWORD not in outputs


def test_a_gateway_whose_mariadb_is_unreachable_does_not_start_and_says_why(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    url = f"mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/litellm"
    returncode, output = serve_until_it_exits(config, {"DATABASE_URL": url})
    assert returncode == 1, output
    assert "cannot start" in output and f"{USER}@127.0.0.1:{port}/litellm" in output
    assert "start MySQL / MariaDB" in output
    assert PASSWORD not in output
