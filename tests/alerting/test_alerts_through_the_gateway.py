"""Alerts from a real gateway process in front of the emulator, to a loopback receiver playing Slack and a
webhook: a burst of upstream failures alerts once with the model group and the count, a deployment that
cools down is named, a sink that drops records is named, and every alert is rate-limited and logged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting.receiver import Receiver
from tests.e2e.support import MASTER_KEY, Gateway, gateway, post

CHAT_MODEL = "claude-3-haiku"
CHAT_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
THRESHOLD = 3


def config(general: str, router: str = "", litellm: str = "", deployments: int = 1) -> str:
    entry = f"""  - model_name: {CHAT_MODEL}
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: eu-west-1
"""
    return f"""model_list:
{entry * deployments}general_settings:
  master_key: {MASTER_KEY}
{general}router_settings:
  num_retries: 0
{router}litellm_settings:
  num_retries: 0
{litellm}"""


def chat(proxy: Gateway, text: str) -> int:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 5}
    return post(f"{proxy.url}/v1/chat/completions", body).status


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def failing_group(receiver: Receiver, emulator_url: str, tmp_path_factory: pytest.TempPathFactory):
    """Alerts to Slack and to a webhook; cooldowns out of the way so every failure reaches Bedrock."""
    text = config(
        f'  alerting: ["slack", "webhook"]\n  alerting_threshold: {THRESHOLD}\n',
        router="  allowed_fails: 1000\n",
    )
    env = {
        "SLACK_WEBHOOK_URL": f"{receiver.url}/slack-failures",
        "WEBHOOK_URL": f"{receiver.url}/hook-failures",
        "BEDROCK_PROXY_ALERT_REPEAT_SECONDS": "600",
    }
    with gateway(text, tmp_path_factory.mktemp("alerts"), emulator_url=emulator_url, env=env) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def cooling_group(receiver: Receiver, emulator_url: str, tmp_path_factory: pytest.TempPathFactory):
    """Slack alerting; two deployments (the only one of a group never cools down), each cooling down for 2 s
    at its second failure; the webhook callback is refused."""
    receiver.statuses["/refusing-callback"] = 400
    text = config(
        '  alerting: ["slack"]\n',
        router="  allowed_fails: 1\n  cooldown_time: 2\n",
        litellm='  success_callback: ["webhook"]\n',
        deployments=2,
    )
    env = {
        "SLACK_WEBHOOK_URL": f"{receiver.url}/slack-cooling",
        "WEBHOOK_URL": f"{receiver.url}/refusing-callback",
        "BEDROCK_PROXY_ALERT_REPEAT_SECONDS": "600",
        "BEDROCK_PROXY_ALERT_POLL_SECONDS": "0.2",
    }
    with gateway(text, tmp_path_factory.mktemp("alerts"), emulator_url=emulator_url, env=env) as proxy:
        yield proxy


def failure_alerts(bodies: list) -> list:
    return [body for body in bodies if f"model group {CHAT_MODEL} failed" in body.get("text", "")]


def test_failures_reaching_the_threshold_alert_slack_once_with_group_and_count(
    failing_group: Gateway, receiver: Receiver
) -> None:
    for _ in range(THRESHOLD - 1):
        assert chat(failing_group, "Bonjour [[emu:fault=internal]]") >= 500
    time.sleep(0.5)  # the dispatcher has seen these: still under the threshold, so nothing yet
    assert failure_alerts(receiver.received("/slack-failures")) == []

    assert chat(failing_group, "Bonjour [[emu:fault=unavailable]]") >= 500
    [alert] = receiver.wait_for("/slack-failures", failure_alerts)
    assert set(alert) == {"text"}
    assert f"model group {CHAT_MODEL} failed {THRESHOLD} requests within 60 seconds" in alert["text"]

    for _ in range(THRESHOLD * 2):  # a second burst inside the repeat interval: rate-limited
        assert chat(failing_group, "Bonjour [[emu:fault=internal]]") >= 500
    time.sleep(1.0)
    assert len(failure_alerts(receiver.received("/slack-failures"))) == 1
    assert "alert: bedrock-proxy: model group" in failing_group.output()  # also logged


def test_the_webhook_channel_receives_the_alert_as_json_fields(
    failing_group: Gateway, receiver: Receiver
) -> None:
    for _ in range(THRESHOLD):
        chat(failing_group, "Bonjour [[emu:fault=internal]]")
    [alert] = receiver.wait_for("/hook-failures")
    assert alert["kind"] == "model_group_failures"
    assert alert["model_group"] == CHAT_MODEL
    assert alert["count"] == THRESHOLD
    assert alert["window_seconds"] == 60


def test_client_mistakes_and_successes_do_not_count_as_failures(
    failing_group: Gateway, receiver: Receiver
) -> None:
    before = len(receiver.received("/slack-failures"))
    for _ in range(THRESHOLD + 1):
        assert chat(failing_group, "Bonjour [[emu:fault=validation]]") == 400
        assert chat(failing_group, "Bonjour") == 200
    time.sleep(0.5)
    assert len(receiver.received("/slack-failures")) == before


def cooldowns(bodies: list) -> list:
    return [body for body in bodies if "entered cooldown" in body["text"]]


def test_a_deployment_entering_cooldown_is_named_once(cooling_group: Gateway, receiver: Receiver) -> None:
    # the router picks a deployment at random: fail until one has failed twice (bounded), then more
    for _ in range(12):
        assert chat(cooling_group, "Bonjour [[emu:fault=throttling]]") >= 400
    first = receiver.wait_for("/slack-cooling", cooldowns)[0]
    assert f"of model group {CHAT_MODEL} ({CHAT_MODEL_ID} eu-west-1) entered cooldown" in first["text"]
    time.sleep(0.5)
    named = [body["text"].split()[2] for body in cooldowns(receiver.received("/slack-cooling"))]
    assert sorted(named) == sorted(set(named))  # each deployment once, however often it failed
    assert set(named) <= {f"{CHAT_MODEL}#0", f"{CHAT_MODEL}#1"}


def test_a_sink_dropping_records_is_named(cooling_group: Gateway, receiver: Receiver) -> None:
    deadline = time.monotonic() + 20  # deployments cooled down by the test above are back after 2 s
    while chat(cooling_group, "Bonjour") != 200 and time.monotonic() < deadline:
        time.sleep(0.5)

    def drops(bodies: list) -> list:
        return [body for body in bodies if "sink webhook dropped" in body["text"]]

    [alert] = receiver.wait_for("/slack-cooling", drops)
    assert "dropped 1 records" in alert["text"]


def test_alerting_without_a_slack_url_still_logs_each_alert(
    emulator_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    text = config('  alerting: ["slack"]\n  alerting_threshold: 1\n', router="  allowed_fails: 1000\n")
    with gateway(text, tmp_path, emulator_url=emulator_url) as proxy:
        assert chat(proxy, "Bonjour [[emu:fault=internal]]") >= 500
        deadline = time.monotonic() + 20
        while "alert: bedrock-proxy: model group" not in proxy.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        output = proxy.output()
    assert "slack alerting needs SLACK_WEBHOOK_URL" in output
    assert f"alert: bedrock-proxy: model group {CHAT_MODEL} failed 1 requests" in output
