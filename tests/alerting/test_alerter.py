"""The Alerter in-process: which failures count, the one-minute window, rate limiting per subject, the
channels chosen from the environment, and email over a loopback SMTP server."""

from __future__ import annotations

import asyncio

import pytest

from bedrock_proxy.alerting import Alerter, EmailChannel, alerter_from_settings, counts_as_failure
from bedrock_proxy.alerting.alert import Alert, cooldown_alert
from bedrock_proxy.config import Settings
from bedrock_proxy.observability.record import Attempt, CallRecord
from tests.alerting.smtp_server import FakeSmtp

GROUP = "claude-3-haiku"


def record(status: int, *, at: float = 1000.0, upstream: bool = True, group: str = GROUP) -> CallRecord:
    attempts = (Attempt(f"{group}#0", group, "model", "eu-west-1", at - 1, at, status),) if upstream else ()
    return CallRecord(
        "req", "chat", group, f"{group}#0", "model", "eu-west-1", at - 1, at, status, attempts=attempts
    )


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("status", "upstream", "counts"),
    [
        (500, True, True),
        (503, True, True),
        (429, True, True),
        (408, True, True),
        (403, True, True),
        (400, True, False),  # the client's own mistake
        (422, True, False),
        (200, True, False),
        (429, False, False),  # the gateway's own rate limit or budget: no upstream call was made
        (401, False, False),  # a wrong gateway key
    ],
)
def test_only_upstream_trouble_counts_as_a_failure(status, upstream, counts):
    assert counts_as_failure(record(status, upstream=upstream)) is counts


def test_failures_alert_when_the_threshold_is_reached_within_a_minute():
    alerter = Alerter(threshold=3)
    alerter.note_record(record(500, at=1000))
    alerter.note_record(record(500, at=1061))  # the first one is out of the window now
    alerter.note_record(record(500, at=1070))
    assert alerter.raised == 0
    alerter.note_record(record(502, at=1080))
    assert alerter.raised == 1
    [alert] = alerter._queue
    assert (alert.model_group, alert.count, alert.window_seconds) == (GROUP, 3, 60.0)
    assert "last error: HTTP 502" in alert.text


def test_each_subject_alerts_at_most_once_per_repeat_interval():
    alerter = Alerter(repeat_seconds=300)
    assert alerter.raise_alert(cooldown_alert("a#0", "a"))
    assert not alerter.raise_alert(cooldown_alert("a#0", "a"))
    assert alerter.raise_alert(cooldown_alert("a#1", "a"))  # another subject is not held back
    assert (alerter.raised, alerter.suppressed) == (2, 1)


async def test_queued_alerts_are_delivered_in_the_background_and_logged(caplog):
    channel = Recording()
    alerter = Alerter([channel])
    alerter.note_state("a#0", "a", 2, model_id="m", region="eu-west-1")
    alerter.note_state("a#0", "a", 0)  # healthy again: no alert
    await alerter.start()
    await alerter.aclose()
    assert [alert.deployment_id for alert in channel.alerts] == ["a#0"]
    assert (
        "alert: bedrock-proxy: deployment a#0 of model group a (m eu-west-1) entered cooldown" in caplog.text
    )


async def test_a_sink_whose_dropped_count_grows_raises_one_alert_naming_it():
    counters = {"langfuse": {"dropped": 0}, "alerting": {"dropped": 9}}
    alerter = Alerter(poll_seconds=0.01)
    alerter.watch_sinks(lambda: counters)
    alerter.check_sinks()
    assert alerter.raised == 0  # our own lane is never alerted on
    counters["langfuse"]["dropped"] = 4
    alerter.check_sinks()
    [alert] = alerter._queue
    assert (alert.sink, alert.count) == ("langfuse", 4)


@pytest.mark.parametrize(
    ("alerting", "environ", "channels"),
    [
        (["slack"], {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/x"}, ["slack"]),
        (["slack", "webhook"], {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/x"}, ["slack"]),
        (["webhook"], {"WEBHOOK_URL": "http://127.0.0.1:9/x"}, ["webhook"]),
        (["email"], {"ALERT_EMAIL": "ops@example.com"}, []),  # no SMTP_HOST: logged only
        (["email"], {"ALERT_EMAIL": "ops@example.com", "SMTP_HOST": "127.0.0.1"}, ["email"]),
    ],
)
def test_channels_are_the_configured_ones_whose_environment_is_set(alerting, environ, channels):
    alerter = alerter_from_settings(Settings(alerting=alerting, alerting_threshold=7), environ)
    assert alerter is not None
    assert [channel.name for channel in alerter.channels] == channels
    assert alerter.threshold == 7


def test_no_alerting_configured_means_no_alerter():
    assert alerter_from_settings(Settings(), {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/x"}) is None


async def test_email_alerts_reach_the_smtp_server_with_the_alert_text():
    server = FakeSmtp()
    try:
        channel = EmailChannel("ops@example.com", "127.0.0.1", server.port, sender="proxy@example.com")
        await channel.send(cooldown_alert("a#0", "a"))
        await asyncio.sleep(0)
    finally:
        server.stop()
    [message] = server.messages
    assert message["To"] == "ops@example.com"
    assert "deployment a#0 of model group a entered cooldown" in message.get_payload()
