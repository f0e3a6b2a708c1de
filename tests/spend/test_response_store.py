"""Stored responses (the Responses API's `store`) in the three databases: kept per key, expired after their
TTL, deleted only by their owner, and shared by two real gateway processes on one database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import NotFoundError, OpenAI

from bedrock_proxy.config.schema import Settings
from bedrock_proxy.spend.response_store import (
    DEFAULT_TTL_SECONDS,
    ResponseStore,
    SqliteResponseStore,
    StoredResponse,
    plan_response_store,
)
from bedrock_proxy.spend.store import SpendStoreError
from tests.control.support import query
from tests.e2e.support import MASTER_KEY, config_text, gateway
from tests.spend.postgres_server import PostgresServer
from tests.support.processes import emulator_process


def stored(response_id: str, key: str, created: float = 1000.0, ttl: float = 60.0) -> StoredResponse:
    response = {"id": response_id, "object": "response", "output": [{"type": "message", "text": "é"}]}
    items = [{"role": "user", "content": "hi"}, *response["output"]]
    return StoredResponse(response_id, key, response, items, created, created + ttl)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/responses.db"
    if request.param == "mysql":
        url: str = request.getfixturevalue("mysql_url")
        return url
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


def store_for(url: str, ttl: str | None = None) -> ResponseStore:
    environ = {"BEDROCK_PROXY_RESPONSES_TTL_SECONDS": ttl} if ttl else {}
    return plan_response_store(Settings(database_url=url), environ)


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_a_response_is_found_only_under_its_own_key_and_until_it_expires(database_url: str) -> None:
    async def scenario() -> None:
        store = store_for(database_url)
        try:
            await store.save(stored("resp_1", "key-a"))
            found = await store.load("resp_1", "key-a", now=1001.0)
            assert found == stored("resp_1", "key-a")
            assert await store.load("resp_1", "key-b", now=1001.0) is None  # another key
            assert await store.load("resp_1", "key-a", now=1061.0) is None  # expired
            assert await store.load("resp_2", "key-a", now=1001.0) is None  # unknown
        finally:
            await store.close()

    run(scenario())


def test_only_the_owner_deletes_and_a_deleted_response_is_gone(database_url: str) -> None:
    async def scenario() -> None:
        store = store_for(database_url)
        try:
            await store.save(stored("resp_1", "key-a"))
            assert await store.delete("resp_1", "key-b") is False
            assert await store.load("resp_1", "key-a", now=1001.0) is not None
            assert await store.delete("resp_1", "key-a") is True
            assert await store.load("resp_1", "key-a", now=1001.0) is None
            assert await store.delete("resp_1", "key-a") is False
        finally:
            await store.close()

    run(scenario())


def test_expired_rows_are_removed_when_new_ones_are_written(database_url: str) -> None:
    async def scenario() -> None:
        store = store_for(database_url)
        try:
            await store.save(stored("resp_old", "key-a", created=1000.0, ttl=10.0))
            await store.save(stored("resp_new", "key-a", created=2000.0, ttl=10.0))
        finally:
            await store.close()

    run(scenario())
    assert _ids(database_url) == ["resp_new"]


def _ids(url: str) -> list[str]:
    return [str(row[0]) for row in query(url, "SELECT response_id FROM responses")]


def test_the_store_follows_the_database_url_and_the_ttl_setting(tmp_path: Path) -> None:
    store = store_for(f"sqlite:///{tmp_path}/x.db")
    assert (
        isinstance(store, SqliteResponseStore) and store.ttl_seconds == DEFAULT_TTL_SECONDS == 30 * 24 * 3600
    )
    assert store_for(f"sqlite:///{tmp_path}/x.db", ttl="3600").ttl_seconds == 3600
    assert not (tmp_path / "x.db").exists()  # opened on first use only
    with pytest.raises(ValueError, match="BEDROCK_PROXY_RESPONSES_TTL_SECONDS"):
        store_for(f"sqlite:///{tmp_path}/x.db", ttl="a month")
    with pytest.raises(SpendStoreError, match="mssql"):  # MySQL is a backend now (issue 13); this is none
        store_for("mssql://db/x")


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with emulator_process() as url:
        yield url


def test_two_gateway_processes_on_one_database_share_stored_responses(
    database_url: str, emulator: str, tmp_path: Path
) -> None:
    config = config_text()
    env = {"DATABASE_URL": database_url}
    with (
        gateway(config, tmp_path, emulator_url=emulator, env=env) as first,
        gateway(config, tmp_path, emulator_url=emulator, env=env) as second,
    ):
        one = OpenAI(api_key=MASTER_KEY, base_url=f"{first.url}/v1", max_retries=0)
        two = OpenAI(api_key=MASTER_KEY, base_url=f"{second.url}/v1", max_retries=0)
        created = one.responses.create(model="claude-3-haiku", input="Say hello")
        assert two.responses.retrieve(created.id).output_text == created.output_text
        follow = two.responses.create(model="claude-3-haiku", previous_response_id=created.id, input="Again")
        assert follow.status == "completed"
        two.responses.delete(created.id)
        with pytest.raises(NotFoundError):
            one.responses.retrieve(created.id)
