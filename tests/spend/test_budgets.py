"""Per-key budgets and rates through a real gateway process: a key is answered until its spend passes its
spend_limit, then refused with a clear 429; spend survives a restart and is shared by processes on one file;
the ledger never holds a request up; per-key rpm gives 429 with Retry-After."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import Answer, eventually, gateway, new_id, post

MASTER = "sk-spend-master-0123"
TINY = "sk-spend-tiny-4567"  # spend_limit: a handful of emulated answers
ROOMY = "sk-spend-roomy-8910"
RPM = "sk-spend-rpm-1112"
LIMIT_TEXT = "0.00005"  # USD; one emulated haiku answer costs about $0.00001
LIMIT = float(LIMIT_TEXT)
RPM_LIMIT = 3

CONFIG = f"""model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
general_settings:
  master_key: {MASTER}
  api_keys:
    - key: {TINY}
      alias: team-tiny
      spend_limit: {LIMIT_TEXT}
    - key: {ROOMY}
      alias: team-roomy
      spend_limit: 100
    - key: {RPM}
      alias: team-rpm
      rpm: {RPM_LIMIT}
litellm_settings:
  num_retries: 0
"""


def env(database: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{database}",
        "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.3",
        **extra,
    }


def ask(base: str, key: str, stream: bool = False) -> Answer:
    body: dict[str, Any] = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "Bonjour"}],
        "stream": stream,
    }
    return post(f"{base}/v1/chat/completions", body, key=key, request_id=new_id())


def get(url: str, key: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def spend_until_refused(base: str, key: str, most: int = 40) -> tuple[int, Answer]:
    """Answers before the first refusal, and the refusal."""
    for answered in range(most):
        answer = ask(base, key)
        if answer.status != 200:
            return answered, answer
    raise AssertionError(f"still answered after {most} requests")


def assert_budget_refusal(answer: Answer) -> None:
    assert answer.status == 429
    error = answer.body["error"]
    assert (error["type"], error["code"]) == ("budget_exceeded", "insufficient_quota")
    message = error["message"]
    assert "team-tiny" in message and f"${LIMIT_TEXT}" in message and "administrator" in message
    assert TINY not in message
    assert answer.headers.get("x-should-retry") == "false"


def test_a_key_is_answered_until_its_spend_passes_the_limit_then_refused(
    emulator_url: str, tmp_path: Path
) -> None:
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(tmp_path / "spend.db")) as proxy:
        answered, refusal = spend_until_refused(proxy.url, TINY)
        assert answered >= 2
        assert_budget_refusal(refusal)
        assert ask(proxy.url, TINY, stream=True).status == 429, "streams are refused too"
        status, info = get(f"{proxy.url}/key/info?key={TINY}", TINY)
        assert status == 200
        assert info["info"]["spend"] >= LIMIT and info["info"]["spend_limit"] == LIMIT
        assert info["info"]["key_alias"] == "team-tiny" and TINY not in json.dumps(info)
        # other keys and the master key are not affected
        assert ask(proxy.url, ROOMY).status == 200
        assert ask(proxy.url, MASTER).status == 200


def test_spend_survives_a_gateway_restart_on_the_same_file(emulator_url: str, tmp_path: Path) -> None:
    database = tmp_path / "spend.db"
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(database)) as proxy:
        spend_until_refused(proxy.url, TINY)
        _, before = get(f"{proxy.url}/key/info?key={TINY}", MASTER)
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(database)) as proxy:
        assert_budget_refusal(ask(proxy.url, TINY))
        _, after = get(f"{proxy.url}/key/info?key={TINY}", MASTER)
        assert after["info"]["spend"] == pytest.approx(before["info"]["spend"])
        assert ask(proxy.url, ROOMY).status == 200


def test_two_gateways_on_one_file_share_budgets_within_the_refresh_lag(
    emulator_url: str, tmp_path: Path
) -> None:
    shared = env(tmp_path / "spend.db", BEDROCK_PROXY_SPEND_REFRESH_SECONDS="0.2")
    with (
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as first,
        gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=shared) as second,
    ):
        spend_until_refused(first.url, TINY)
        eventually(lambda: ask(second.url, TINY).status == 429, message="the second gateway kept answering")
        assert_budget_refusal(ask(second.url, TINY))


def test_requests_do_not_wait_for_a_locked_store_and_their_spend_lands_afterwards(
    emulator_url: str, tmp_path: Path
) -> None:
    database = tmp_path / "spend.db"
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(database)) as proxy:
        blocker = sqlite3.connect(database, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # every write waits 5 s (busy timeout), then retries
        try:
            answers = [ask(proxy.url, ROOMY) for _ in range(10)]
            assert [a.status for a in answers] == [200] * 10
            # a request that waited on the store would take the 5 s busy timeout
            assert max(a.seconds for a in answers) < 2.5
            assert_budget_refusal(spend_until_refused(proxy.url, TINY)[1])  # enforced from memory meanwhile
            locked_rows = blocker.execute("SELECT COUNT(*) FROM spend_logs").fetchone()[0]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert locked_rows == 0
        ids = {a.headers["x-request-id"] for a in answers}

        def landed() -> bool:
            status, rows = get(f"{proxy.url}/spend/logs?api_key={ROOMY}&limit=1000", MASTER)
            return status == 200 and ids <= {row["request_id"] for row in rows}

        eventually(landed, timeout=30, message="the spend of the requests made while locked never landed")


def test_a_key_gets_429_with_retry_after_past_its_rpm(emulator_url: str, tmp_path: Path) -> None:
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(tmp_path / "spend.db")) as proxy:
        statuses = [ask(proxy.url, RPM).status for _ in range(RPM_LIMIT)]
        refused = ask(proxy.url, RPM)
        assert statuses == [200] * RPM_LIMIT
        assert refused.status == 429
        assert refused.body["error"]["code"] == "key_rpm_limit_exceeded"
        assert f"{RPM_LIMIT} requests per minute" in refused.body["error"]["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert ask(proxy.url, ROOMY).status == 200, "other keys keep their own rate"


def test_spend_routes_answer_the_master_key_and_a_key_about_itself(emulator_url: str, tmp_path: Path) -> None:
    with gateway(CONFIG, tmp_path, emulator_url=emulator_url, env=env(tmp_path / "spend.db")) as proxy:
        answer = ask(proxy.url, ROOMY)
        request_id = answer.headers["x-request-id"]

        def logged() -> list:
            status, rows = get(f"{proxy.url}/spend/logs", MASTER)
            assert status == 200
            return [row for row in rows if row["request_id"] == request_id]

        (row,) = eventually(logged)
        assert row["key_alias"] == "team-roomy" and row["model"] == "claude-3-haiku"
        assert row["spend"] == pytest.approx(float(answer.headers["x-litellm-response-cost"]))
        assert ROOMY not in json.dumps(row)
        cases = [
            ("/spend/logs", ROOMY, 403),
            (f"/key/info?key={TINY}", ROOMY, 403),
            (f"/key/info?key={ROOMY}", ROOMY, 200),
            ("/key/info", ROOMY, 200),
            (f"/key/info?key={row['api_key']}", MASTER, 200),
            ("/key/info?key=sk-unknown", MASTER, 404),
        ]
        for path, key, expected in cases:
            status, _ = get(f"{proxy.url}{path}", key)
            assert status == expected, (path, key)
