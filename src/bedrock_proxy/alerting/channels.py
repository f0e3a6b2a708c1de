"""Where an alert goes: Slack's incoming webhook, a generic webhook, or email over SMTP.

Each channel delivers one alert or raises; the Alerter owns queueing, retries and logging, so a channel is
only the wire format. Slack takes `{"text": ...}`; the webhook takes the alert's full JSON (Alert.payload);
email is plain text sent by stdlib smtplib in a thread, so the event loop never waits on a mail server.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Protocol

import orjson

from bedrock_proxy.alerting.alert import Alert
from bedrock_proxy.observability.sink import HttpSink


class Channel(Protocol):
    name: str

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


class _Poster(HttpSink):
    """HttpSink's POST and status classification, without gzip (Slack does not accept it)."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(timeout=timeout, gzip_body=False)
        self.name = name


class SlackChannel:
    name = "slack"

    def __init__(self, webhook_url: str, *, timeout: float = 10.0) -> None:
        self.url = webhook_url
        self._poster = _Poster("slack", timeout)

    async def send(self, alert: Alert) -> None:
        body = orjson.dumps({"text": alert.text})
        await self._poster.post(self.url, body, {"Content-Type": "application/json"})

    async def aclose(self) -> None:
        await self._poster.aclose()


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str, headers: dict[str, str] | None = None, *, timeout: float = 10.0) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self._poster = _Poster("webhook", timeout)

    async def send(self, alert: Alert) -> None:
        await self._poster.post(self.url, orjson.dumps(alert.payload()), self.headers)

    async def aclose(self) -> None:
        await self._poster.aclose()


class EmailChannel:
    """SMTP: port 465 speaks TLS from the start; otherwise STARTTLS is used whenever the server offers it."""

    name = "email"

    def __init__(
        self,
        to: str,
        host: str,
        port: int = 587,
        *,
        user: str | None = None,
        password: str | None = None,
        sender: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.to = to
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.sender = sender or user or "bedrock-proxy@localhost"
        self.timeout = timeout

    def _message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = alert.text[:120]
        message["From"] = self.sender
        message["To"] = self.to
        lines = [alert.text, ""] + [f"{key}: {value}" for key, value in alert.payload().items()]
        message.set_content("\n".join(lines))
        return message

    def _send_blocking(self, message: EmailMessage) -> None:
        if self.port == 465:
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if self.port != 465 and client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
            if self.user and self.password:
                client.login(self.user, self.password)
            client.send_message(message)

    async def send(self, alert: Alert) -> None:
        await asyncio.to_thread(self._send_blocking, self._message(alert))

    async def aclose(self) -> None:
        return None
