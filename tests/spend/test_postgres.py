"""The PostgreSQL spend store on a real server: schema and migrations, writers on several connections, a lost
connection, start-up failures that name the database but never its password, and budgets shared by two real
gateway processes, down to the seed's own general_settings block."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from bedrock_proxy.config.schema import ApiKey, Settings
from bedrock_proxy.control.migrations import MIGRATIONS
from bedrock_proxy.spend import SpendEntry, SpendStoreError, key_id, plan_ledger
from bedrock_proxy.spend.postgres import PostgresSpendStore
from tests.conftest import SEED_MODELS
from tests.e2e.support import Answer, eventually, gateway, new_id, post
from tests.spend.postgres_server import PASSWORD, USER, PostgresServer
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


def entry(key: str, spend: float, request_id: str | None = None) -> SpendEntry:
    """request_id None: a new one, as every call has (the ledger counts a request id once)."""
    request_id = request_id or uuid.uuid4().hex
    return SpendEntry(request_id, key, f"alias-{key}", "claude-3-haiku", "anthropic.x", spend, 3, 7, 1.0, 2.0)


def query(url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def settings(url: str, spend_limit: float | None = 1.0) -> Settings:
    return Settings(api_keys=[ApiKey(key="sk-a", spend_limit=spend_limit)], database_url=url)


# ---------------------------------------------------------------------------------------- the store itself


def test_the_schema_is_created_once_even_by_gateways_starting_together(postgres_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: PostgresSpendStore(postgres_url).check(), range(4)))
    PostgresSpendStore(postgres_url).check()  # and again at the next start
    applied = query(postgres_url, "SELECT version FROM bedrock_proxy_migrations ORDER BY version")
    assert applied == [(version,) for version in range(1, len(MIGRATIONS) + 1)]  # each one, once
    tables = query(postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables == [
        (name,)
        for name in (
            "bedrock_proxy_migrations",
            "control_changes",
            "control_keys",
            "control_teams",
            "control_users",
            "control_version",
            "key_spend",
            "responses",
            "spend_daily",
            "spend_logs",
            "spend_seen",
        )
    ]


async def test_writers_on_several_connections_lose_no_spend(postgres_url: str) -> None:
    stores = [PostgresSpendStore(postgres_url) for _ in range(3)]
    for store in stores:
        await store.open()

    async def write(store: PostgresSpendStore, n: int) -> None:
        for batch in range(20):
            # every call its own request id: the ledger counts a request id once
            await store.record(
                [entry("a", 0.25, f"{n}-{batch}-{i}") for i in range(5)] + [entry("b", 0.5, f"{n}-{batch}-b")]
            )

    await asyncio.gather(*(write(store, n) for n, store in enumerate(stores)))
    assert await stores[0].totals() == {"a": 3 * 20 * 5 * 0.25, "b": 3 * 20 * 0.5}
    assert len(await stores[1].logs(key_id="a", limit=1000)) == 3 * 20 * 5
    for store in stores:
        await store.close()


async def test_a_lost_connection_is_reopened_and_the_failed_write_can_be_retried(
    postgres: PostgresServer, postgres_url: str
) -> None:
    store = PostgresSpendStore(postgres_url)
    await store.open()
    await store.record([entry("a", 0.5)])
    dbname = postgres_url.rsplit("/", 1)[1]
    with postgres.admin() as admin:  # as a database restart or a failover does to every client
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (dbname,)
        ).fetchone()
    assert killed == (1,), "the store holds one connection"
    try:
        await store.record([entry("a", 0.25)])
    except SpendStoreError as error:  # the ledger retries this batch later
        assert PASSWORD not in str(error)
        await store.record([entry("a", 0.25)])
    assert await store.totals() == {"a": 0.75}
    await store.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_a_postgresql_url_puts_spend_in_that_database_and_logs_it_without_the_password(
    scheme: str, postgres_url: str
) -> None:
    url = postgres_url.replace("postgresql", scheme, 1)
    plan = plan_ledger(settings(url), {})
    assert plan is not None and isinstance(plan.store, PostgresSpendStore)
    assert PASSWORD not in plan.url and plan.url.endswith(postgres_url.split("@", 1)[1])
    assert query(postgres_url, "SELECT count(*) FROM key_spend") == [(0,)], "tables made at start-up"


def test_a_database_url_without_budgets_keeps_spend_logs_in_postgresql(postgres_url: str) -> None:
    plan = plan_ledger(settings(postgres_url, spend_limit=None), {})
    assert plan is not None and plan.keep_logs and isinstance(plan.store, PostgresSpendStore)


@pytest.mark.parametrize(
    ("case", "port", "dbname", "password", "fix"),
    [
        ("nothing listens", "closed", "litellm", PASSWORD, "COMPOSE_PROFILES=postgres"),
        ("wrong password", "server", "litellm", "not-the-password", "password in DATABASE_URL"),
        ("no such database", "server", "litellm", PASSWORD, "createdb litellm"),
    ],
)
def test_a_database_that_cannot_be_used_stops_start_up_naming_it_without_the_password(
    case: str, port: str, dbname: str, password: str, fix: str, postgres: PostgresServer
) -> None:
    number = free_port() if port == "closed" else postgres.port
    url = postgres.url(dbname, password=password, port=number)
    with pytest.raises(SpendStoreError) as raised:
        plan_ledger(settings(url), {})
    message = str(raised.value)
    assert f"{USER}@127.0.0.1:{number}/{dbname}" in message, case
    assert fix in message, case
    assert password not in message and "spend_limit" in message, case


# ------------------------------------------------------------------------------- real gateway processes


def pg_env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
        "BEDROCK_PROXY_SPEND_REFRESH_SECONDS": "0.2",
    }


def test_two_gateways_on_one_postgresql_database_share_budgets(
    emulator_url: str, postgres_url: str, tmp_path: Path
) -> None:
    shared = pg_env(postgres_url)
    with (
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as first,
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as second,
    ):
        answered, refusal = spend_until_refused(first.url, TINY)
        assert answered >= 2
        assert_budget_refusal(refusal)
        eventually(lambda: ask(second.url, TINY).status == 429, message="the second gateway kept answering")
        assert_budget_refusal(ask(second.url, TINY))
        # spend through the second is seen by the first, through the database
        cost = float(ask(second.url, ROOMY).headers["x-litellm-response-cost"])
        eventually(
            lambda: get(f"{first.url}/key/info?key={ROOMY}", ROOMY)[1]["info"]["spend"] >= cost,
            message="the first gateway never saw the second's spend",
        )
        outputs = first.output() + second.output()
    [(stored,)] = query(postgres_url, "SELECT spend FROM key_spend WHERE key_id = %s", key_id(TINY))
    assert stored >= LIMIT
    assert PASSWORD not in outputs


def test_a_gateway_whose_database_is_unreachable_does_not_start_and_says_why(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    url = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/litellm"
    returncode, output = serve_until_it_exits(config, {"DATABASE_URL": url})
    assert returncode == 1, output
    assert "cannot start" in output and f"{USER}@127.0.0.1:{port}/litellm" in output
    assert "COMPOSE_PROFILES=postgres" in output
    assert PASSWORD not in output


def seed_config(database_url: str) -> str:
    """The seed's models for its keys, and its general_settings block as written (comments included), with
    its database_url pointing at the test server."""
    models = "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: bedrock/{SEED_MODELS[name]}\n"
        "      aws_region_name: eu-west-1\n"
        for name in ("claude-3-5-sonnet", "claude-3-haiku", "titan-text-express")
    )
    return f"""model_list:
{models}general_settings:
  master_key: sk-1234               # Clé principale
  database_url: "{database_url}"

  # Support de multiples clés
  api_keys:
    - key: sk-team-a
      spend_limit: 100              # Limite en USD
      models: ["claude-3-5-sonnet", "claude-3-haiku"]

    - key: sk-team-b
      spend_limit: 50
      models: ["titan-text-express"]
"""


async def record(url: str, entries: list[SpendEntry]) -> None:
    store = PostgresSpendStore(url)
    await store.open()
    await store.record(entries)
    await store.close()


def test_the_seed_general_settings_keep_and_enforce_budgets_in_postgresql(
    emulator_url: str, postgres_url: str, tmp_path: Path
) -> None:
    spent_elsewhere = SpendEntry("earlier", key_id("sk-team-a"), "api_keys[0]", "m", "x", 100.0, 1, 1, 1, 2)
    asyncio.run(record(postgres_url, [spent_elsewhere]))  # team a spent its $100 through another host
    env = {"BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3"}
    with gateway(seed_config(postgres_url), tmp_path, emulator_url=emulator_url, env=env) as proxy:

        def chat(key: str, model: str) -> Answer:
            body = {"model": model, "messages": [{"role": "user", "content": "Bonjour"}]}
            return post(f"{proxy.url}/v1/chat/completions", body, key=key, request_id=new_id())

        refused = chat("sk-team-a", "claude-3-haiku")
        assert refused.status == 429 and refused.body["error"]["type"] == "budget_exceeded"
        assert (
            "api_keys[0]" in refused.body["error"]["message"] and "$100" in refused.body["error"]["message"]
        )
        answered = chat("sk-team-b", "titan-text-express")
        assert answered.status == 200
        request_id = answered.headers["x-request-id"]
        rows = eventually(
            lambda: query(
                postgres_url, "SELECT key_id, spend FROM spend_logs WHERE request_id = %s", request_id
            ),
            message="team b's call never reached spend_logs in PostgreSQL",
        )
        assert rows == [
            (key_id("sk-team-b"), pytest.approx(float(answered.headers["x-litellm-response-cost"])))
        ]
        output = proxy.output()
    assert PASSWORD not in output and "SQLite" not in output
