"""The Alerter from the settings, and the sink that feeds it; bedrock_proxy.wiring connects both to the
gateway without touching the request path (the router tells `Alerter.deployment_state` of cooldowns).

- AlertSink: a dispatcher sink that receives failed CallRecords in the background and counts them.
- alerter_from_settings: general_settings.alerting / alerting_threshold plus the environment -> Alerter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bedrock_proxy.alerting.alerter import Alerter
from bedrock_proxy.alerting.channels import Channel, EmailChannel, SlackChannel, WebhookChannel
from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.webhook import parse_headers

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

log = logging.getLogger("bedrock_proxy.alerting")

DEFAULT_THRESHOLD = 5  # the seed's "alertes après 5 erreurs"
DEFAULT_REPEAT_SECONDS = 300.0
DEFAULT_POLL_SECONDS = 10.0
WINDOW_SECONDS = 60.0


class AlertSink:
    """Failed records reach the Alerter through the dispatcher, batched and off the request path."""

    name = "alerting"
    max_batch = 500

    def __init__(self, alerter: Alerter) -> None:
        self.alerter = alerter

    async def send_batch(self, records: list[CallRecord]) -> None:
        for record in records:
            await self.alerter.count_record(record)

    async def aclose(self) -> None:
        return None


def _channels(names: list[str], environ: Mapping[str, str]) -> list[Channel]:
    channels: list[Channel] = []
    if "slack" in names and environ.get("SLACK_WEBHOOK_URL"):
        channels.append(SlackChannel(environ["SLACK_WEBHOOK_URL"]))
    if "webhook" in names and environ.get("WEBHOOK_URL"):
        channels.append(WebhookChannel(environ["WEBHOOK_URL"], parse_headers(environ.get("WEBHOOK_HEADERS"))))
    if "email" in names and environ.get("ALERT_EMAIL") and environ.get("SMTP_HOST"):
        port = environ.get("SMTP_PORT") or "587"
        if not port.isdigit():
            raise ValueError(f"SMTP_PORT must be a port number, not {port!r}")
        channels.append(
            EmailChannel(
                environ["ALERT_EMAIL"],
                environ["SMTP_HOST"],
                int(port),
                user=environ.get("SMTP_USER") or None,
                password=environ.get("SMTP_PASSWORD") or None,
                sender=environ.get("SMTP_SENDER") or None,
            )
        )
    return channels


def alerter_from_settings(settings: Settings, environ: Mapping[str, str]) -> Alerter | None:
    """None when alerting is off (no general_settings.alerting); channels missing their env only log."""
    names = [str(name).strip().lower() for name in settings.alerting]
    if not names:
        return None
    channels = _channels(names, environ)
    missing = sorted(set(names) - {channel.name for channel in channels})
    if missing:
        log.warning("alerting: %s not configured in the environment, alerts only logged", ", ".join(missing))
    threshold = settings.alerting_threshold
    return Alerter(
        channels,
        threshold=int(threshold) if threshold else DEFAULT_THRESHOLD,
        window_seconds=WINDOW_SECONDS,
        repeat_seconds=env_seconds(environ, "BEDROCK_PROXY_ALERT_REPEAT_SECONDS", DEFAULT_REPEAT_SECONDS),
        poll_seconds=env_seconds(environ, "BEDROCK_PROXY_ALERT_POLL_SECONDS", DEFAULT_POLL_SECONDS),
    )
