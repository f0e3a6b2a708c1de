"""Alerting: Slack, webhook or email messages when deployments cool down, model groups keep failing or
observability sinks drop records. Configured by general_settings.alerting and alerting_threshold.

Public: Alert, Alerter, AlertSink, alerter_from_settings, and the channels.
Cooldowns arrive through `Alerter.deployment_state`, one of the router's on_state_change listeners.
"""

from bedrock_proxy.alerting.alert import Alert
from bedrock_proxy.alerting.alerter import Alerter, counts_as_failure
from bedrock_proxy.alerting.channels import EmailChannel, SlackChannel, WebhookChannel
from bedrock_proxy.alerting.settings import AlertSink, alerter_from_settings

__all__ = [
    "Alert",
    "AlertSink",
    "Alerter",
    "EmailChannel",
    "SlackChannel",
    "WebhookChannel",
    "alerter_from_settings",
    "counts_as_failure",
]
