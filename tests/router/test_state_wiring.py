"""Which store keeps the limits, as the config and the environment choose it, and what an outage of a shared
store tells the operator (metric, alert) and the user (check-config, a config error naming the key)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bedrock_proxy.alerting import Alerter
from bedrock_proxy.config.loader import inspect_text
from bedrock_proxy.observability.metrics import GatewayMetrics
from bedrock_proxy.router.state import InMemoryState
from bedrock_proxy.router.state_failover import FailoverState
from bedrock_proxy.router.state_redis import RedisState
from bedrock_proxy.router.state_sqlite import SqliteState
from bedrock_proxy.wiring import (
    STATE_FILE_ENV,
    WINDOW_LEASE_ENV,
    build_shared_state,
    describe_shared_state,
)
from tests.support.processes import clean_env

MODELS = (
    "model_list:\n  - model_name: m\n    litellm_params:\n"
    "      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0\n      aws_region_name: eu-west-1\n"
)
MASTER = "general_settings:\n  master_key: sk-test\n"


def settings(text: str = "", environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    config = inspect_text(MODELS + MASTER + text, environ or {})
    assert not config.errors, config.errors
    return config.settings


def test_one_process_without_redis_keeps_its_limits_in_memory() -> None:
    assert isinstance(build_shared_state(settings(), {}), InMemoryState)
    assert "kept in this process" in describe_shared_state(settings(), {})


def test_workers_without_redis_share_the_file_serve_names(tmp_path: Path) -> None:
    environ = {STATE_FILE_ENV: str(tmp_path / "limits.db")}
    state = build_shared_state(settings(), environ)
    assert isinstance(state, FailoverState) and isinstance(state.shared, SqliteState)
    assert "shared by this host's worker processes" in describe_shared_state(settings(), {}, workers=2)


def test_litellm_s_redis_keys_or_the_environment_choose_redis() -> None:
    for text, environ in [
        ("router_settings:\n  redis_host: cache.internal\n  redis_port: 6380\n", {}),
        ("", {"REDIS_HOST": "cache.internal", "REDIS_PORT": "6380"}),
        ("router_settings:\n  redis_url: redis://:secret@cache.internal:6380/0\n", {}),
    ]:
        chosen = settings(text, environ)
        state = build_shared_state(chosen, {})
        assert isinstance(state, FailoverState) and isinstance(state.shared, RedisState)
        assert not state.fail_closed
        said = describe_shared_state(chosen, {})
        assert "Redis at" in said and "cache.internal:6380" in said and "secret" not in said
        assert "redis_fail_mode open" in said


def test_window_leases_are_on_with_redis_and_their_time_is_bounded() -> None:
    chosen = settings("router_settings:\n  redis_host: cache.internal\n")
    state = build_shared_state(chosen, {})
    assert isinstance(state, FailoverState) and isinstance(state.shared, RedisState)
    assert state.shared.leases is not None and state.shared.leases.lifetime == 0.1
    off = build_shared_state(chosen, {WINDOW_LEASE_ENV: "0"})
    assert isinstance(off, FailoverState) and isinstance(off.shared, RedisState) and off.shared.leases is None
    for wrong, said in [("2", "at most 1 second"), ("-1", "0 or more"), ("soon", "number of seconds")]:
        with pytest.raises(ValueError, match=WINDOW_LEASE_ENV) as raised:
            build_shared_state(chosen, {WINDOW_LEASE_ENV: wrong})
        assert said in str(raised.value)


def test_redis_fail_mode_closed_is_read_and_a_wrong_value_names_the_key() -> None:
    closed = settings("router_settings:\n  redis_host: r\n  redis_fail_mode: closed\n")
    state = build_shared_state(closed, {})
    assert isinstance(state, FailoverState) and state.fail_closed
    wrong = inspect_text(
        MODELS + MASTER + "router_settings:\n  redis_host: r\n  redis_fail_mode: sometimes\n", {}
    )
    assert [issue.path for issue in wrong.errors] == ["router_settings.redis_fail_mode"]
    assert "open" in wrong.errors[0].message and "closed" in wrong.errors[0].message


def test_an_outage_sets_the_metric_and_raises_one_alert() -> None:
    chosen = settings("router_settings:\n  redis_host: r\n")
    metrics, alerter = GatewayMetrics(), Alerter()
    state = build_shared_state(chosen, {}, metrics, alerter)
    assert isinstance(state, FailoverState) and state.on_change is not None
    state.on_change(False, "Connection refused")
    rendered = metrics.render()[0].decode()
    assert 'bedrock_proxy_shared_state_down{store="redis"} 1.0' in rendered
    assert 'bedrock_proxy_shared_state_outages_total{store="redis"} 1.0' in rendered
    assert alerter.raised == 1
    state.on_change(True, "answers again")
    assert 'bedrock_proxy_shared_state_down{store="redis"} 0.0' in metrics.render()[0].decode()


def test_check_config_says_which_store_keeps_the_limits(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MODELS + MASTER + "router_settings:\n  redis_url: redis://cache.internal:6379/0\n")
    checked = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "check-config", "--config", str(path)],
        env=clean_env({"BEDROCK_PROXY_ENV_FILE": "none"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "note    shared limits in Redis at redis://cache.internal:6379/0" in checked.stdout
