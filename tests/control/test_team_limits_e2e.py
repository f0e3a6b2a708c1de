"""A team's and a user's rate limits, and a team's models, hold for every key of theirs: real gateway
processes, the management API over plain HTTP, what a key may do seen through the OpenAI SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from tests.cache.redis_server import redis_server
from tests.control.keys_support import CONFIG, ask, call, generate, keyed_gateway
from tests.e2e.support import eventually
from tests.support.processes import emulator_process


def _ok(answer: object) -> bool:
    return not isinstance(answer, openai.APIStatusError)


def test_a_teams_rpm_and_a_users_tpm_hold_across_their_keys(
    tmp_path: Path, emulator_url: str, database_url: str
) -> None:
    with keyed_gateway(tmp_path, emulator_url, database_url) as gw:
        status, team = call(gw.url, "POST", "/team/new", {"team_alias": "qa", "rpm_limit": 2})
        assert status == 200 and team["rpm_limit"] == 2, team
        first = generate(gw.url, team_id=team["team_id"])["key"]
        second = generate(gw.url, team_id=team["team_id"])["key"]
        outsider = generate(gw.url)["key"]
        assert _ok(ask(gw.url, first)) and _ok(ask(gw.url, second))
        refused = ask(gw.url, first)  # the team's third request this minute, whichever key sends it
        assert isinstance(refused, openai.RateLimitError), refused
        assert "Team 'qa'" in refused.message and "2 requests per minute (rpm_limit)" in refused.message
        assert isinstance(refused.body, dict) and refused.body["code"] == "team_rpm_limit_exceeded"
        assert _ok(ask(gw.url, outsider))  # another team's (or no team's) keys are not held to it

        status, user = call(gw.url, "POST", "/user/new", {"user_email": "cy@example.com", "tpm_limit": 5})
        assert status == 200, user
        assert _ok(ask(gw.url, user["key"]))  # its answer's tokens (more than 5) now fill the minute
        over = ask(gw.url, user["key"])
        assert isinstance(over, openai.RateLimitError), over
        assert "User 'cy@example.com'" in over.message and "tokens per minute (tpm_limit)" in over.message
        another = generate(gw.url, user_id=user["user_id"])["key"]
        assert isinstance(ask(gw.url, another), openai.RateLimitError)  # the user's other keys too


def test_a_teams_rpm_holds_across_two_gateway_processes_sharing_redis(
    tmp_path: Path, emulator_url: str
) -> None:
    """Each process alone would admit the team's full limit; one Redis makes it one limit."""
    with redis_server() as redis:
        config = CONFIG + f"router_settings:\n  redis_url: {redis.url}\n"
        database = f"sqlite:///{tmp_path}/shared.db"
        with (
            keyed_gateway(tmp_path, emulator_url, database, config) as one,
            keyed_gateway(tmp_path, emulator_url, database, config) as two,
        ):
            status, team = call(one.url, "POST", "/team/new", {"team_alias": "wide", "rpm_limit": 3})
            assert status == 200, team
            keys = [generate(one.url, team_id=team["team_id"])["key"] for _ in range(2)]
            # the second process knows the keys (within its refresh delay) before the count starts; listing
            # the models authenticates without counting a request
            eventually(lambda: all(call(two.url, "GET", "/v1/models", key=k)[0] == 200 for k in keys))
            answers = [ask(gw.url, keys[i % 2]) for i, gw in enumerate([one, two, one, two])]
            assert [_ok(a) for a in answers] == [True, True, True, False], answers
            refused = answers[3]
            assert isinstance(refused, openai.RateLimitError) and "Team 'wide'" in refused.message


def test_a_teams_max_parallel_requests_holds_across_its_keys(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/parallel.db"
    with emulator_process("--latency", "1.5") as slow, keyed_gateway(tmp_path, slow, database) as gw:
        status, team = call(
            gw.url, "POST", "/team/new", {"team_alias": "one-at-a-time", "max_parallel_requests": 1}
        )
        assert status == 200, team
        first, second = (generate(gw.url, team_id=team["team_id"])["key"] for _ in range(2))
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(ask, gw.url, first)
            time.sleep(0.5)
            refused = ask(gw.url, second)
            assert _ok(running.result())
        assert isinstance(refused, openai.RateLimitError), refused
        assert "Team 'one-at-a-time'" in refused.message and "max_parallel_requests" in refused.message
        assert _ok(ask(gw.url, second))  # the team's slot was given back


def test_a_keys_models_stay_within_its_teams(tmp_path: Path, emulator_url: str, database_url: str) -> None:
    with keyed_gateway(tmp_path, emulator_url, database_url) as gw:
        both = ["claude-3-haiku", "titan-embed-text-v2"]
        status, team = call(gw.url, "POST", "/team/new", {"team_alias": "chat", "models": ["claude-3-haiku"]})
        assert status == 200, team
        team_id = team["team_id"]
        status, error = call(gw.url, "POST", "/key/generate", {"team_id": team_id, "models": both})
        assert status == 400 and error["error"]["param"] == "models", error
        assert "titan-embed-text-v2" in error["error"]["message"] and "'chat'" in error["error"]["message"]
        assert error["error"]["code"] == "models_outside_team"

        key = generate(gw.url, team_id=team_id, models=["claude-3-haiku"])["key"]
        inherits = generate(gw.url, team_id=team_id, models=["all-team-models"])["key"]
        status, error = call(gw.url, "POST", "/key/update", {"key": key, "models": both})
        assert status == 400 and error["error"]["param"] == "models", error
        loner = generate(gw.url, models=["titan-embed-text-v2"])["key"]
        status, error = call(gw.url, "POST", "/key/update", {"key": loner, "team_id": team_id})
        assert status == 400 and "titan-embed-text-v2" in error["error"]["message"], error
        status, error = call(gw.url, "POST", "/key/regenerate", {"key": key, "models": both})
        assert status == 400 and error["error"]["param"] == "models", error
        assert _ok(ask(gw.url, key)) and _ok(ask(gw.url, inherits))  # nothing was changed by the refusals

        # the team's list narrows later: the key's own list no longer reaches past it
        status, _ = call(
            gw.url, "POST", "/team/update", {"team_id": team_id, "models": ["titan-embed-text-v2"]}
        )
        assert status == 200
        refused = ask(gw.url, key)
        assert isinstance(refused, openai.PermissionDeniedError), refused
        assert "team 'chat'" in refused.message and "claude-3-haiku" in refused.message
        assert isinstance(refused.body, dict) and refused.body["code"] == "team_model_access_denied"
        assert isinstance(ask(gw.url, inherits), openai.PermissionDeniedError)
        listed = openai.OpenAI(api_key=key, base_url=f"{gw.url}/v1").models.list()
        assert [m.id for m in listed.data] == []  # neither its own nor its team's: no model
