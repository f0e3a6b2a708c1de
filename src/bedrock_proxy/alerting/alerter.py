"""The Alerter: notices trouble, rate-limits it per subject, and delivers alerts in the background.

Three signals, none read on the request path beyond a dict look-up and a deque append:
- a deployment entering cooldown (`deployment_state`, one of the router's on_state_change listeners);
- a model group's upstream failures reaching `threshold` within `window` seconds (failed CallRecords,
  delivered by the observability dispatcher to AlertSink, so counting happens off the request path);
- an observability sink dropping records (the dispatcher's counters, polled every `poll_seconds`).
Each subject (one deployment, one model group, one sink) alerts at most once per `repeat_seconds`. Every
alert is logged at WARNING, whatever channels are configured, then sent to each channel with a few retries.

With several processes or hosts, the wiring hands in the router's shared store (`share`): failures are then
counted there, so a burst spread over processes is noticed once it reaches the threshold in all of them
together, and each alert is claimed there before it is delivered, so one process sends it, not each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from bedrock_proxy.alerting.alert import (
    Alert,
    cooldown_alert,
    credentials_alert,
    dropped_alert,
    failures_alert,
)
from bedrock_proxy.alerting.channels import Channel
from bedrock_proxy.observability.record import CallRecord, DeploymentState
from bedrock_proxy.observability.sink import RetryableSinkError

log = logging.getLogger("bedrock_proxy.alerting")

# Statuses that say the deployment, not the client, is in trouble: throttling, timeouts, credentials that
# Bedrock refused, a model id it does not know, and every 5xx. A client's 400 is its own mistake.
UPSTREAM_TROUBLE = frozenset({401, 403, 404, 408, 429})
SinkStats = Callable[[], dict[str, dict[str, int]]]
BURST_KEY_SECONDS = 1.0  # the store's failure count restarts at each burst; its cooldown key is not read


class SharedCounters(Protocol):
    """What the alerter needs of a store every process shares (router.state.SharedState has it)."""

    async def fail(
        self, fails_key: str, cooldown_key: str, allowed: int, cooldown_seconds: float
    ) -> tuple[float, bool]: ...

    async def claim(self, key: str, seconds: float) -> bool: ...


def counts_as_failure(record: CallRecord) -> bool:
    """A request that reached Bedrock and failed for a reason an operator should look at."""
    if record.status < 400 or not record.attempts:
        return False  # refused before any upstream call (auth, budget, limits): not the deployment's fault
    return record.status >= 500 or record.status in UPSTREAM_TROUBLE


class Alerter:
    def __init__(
        self,
        channels: Iterable[Channel] = (),
        *,
        threshold: int = 5,
        window_seconds: float = 60.0,
        repeat_seconds: float = 300.0,
        poll_seconds: float = 10.0,
        queue_size: int = 100,
        send_attempts: int = 3,
        retry_seconds: float = 1.0,
    ) -> None:
        self.channels = list(channels)
        self.threshold = max(1, int(threshold))
        self.window_seconds = window_seconds
        self.repeat_seconds = repeat_seconds
        self.poll_seconds = poll_seconds
        self.send_attempts = max(1, send_attempts)
        self.retry_seconds = retry_seconds
        self._queue: deque[Alert] = deque(maxlen=queue_size)
        self._wake: asyncio.Event | None = None
        self._last_raised: dict[str, float] = {}
        self._failures: dict[str, deque[float]] = {}
        self._sink_stats: list[SinkStats] = []
        self._dropped_seen: dict[str, int] = {}
        self._refusals_seen: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.shared: SharedCounters | None = None
        self.raised = 0
        self.suppressed = 0
        self.delivered = 0
        self.failed = 0

    # ------------------------------------------------------------------ signals (cheap, never block)
    def raise_alert(self, alert: Alert) -> bool:
        """Queue an alert unless its subject alerted less than repeat_seconds ago. True when queued."""
        now = time.monotonic()
        last = self._last_raised.get(alert.subject)
        if last is not None and now - last < self.repeat_seconds:
            self.suppressed += 1
            return False
        self._last_raised[alert.subject] = now
        self.raised += 1
        self._queue.append(alert)
        if self._wake is not None:
            self._wake.set()
        return True

    def note_state(
        self, deployment_id: str, model_group: str, state: int, *, model_id: str = "", region: str = ""
    ) -> None:
        """Called for each deployment state change the router reports; alerts on entering cooldown."""
        if state == DeploymentState.COOLDOWN:
            self.raise_alert(cooldown_alert(deployment_id, model_group, model_id, region))

    def deployment_state(
        self,
        deployment_id: str,
        model_group: str,
        state: int,
        *,
        bedrock_model_id: str = "",
        region: str = "",
    ) -> None:
        """The router's on_state_change listener (its signature is GatewayMetrics.set_deployment_state's)."""
        self.note_state(deployment_id, model_group, state, model_id=bedrock_model_id, region=region)

    def note_record(self, record: CallRecord) -> None:
        """Counts a failed request against its model group; alerts when the window holds `threshold`."""
        if not counts_as_failure(record):
            return
        times = self._failures.setdefault(record.model_group, deque())
        times.append(record.end_time)
        oldest = record.end_time - self.window_seconds
        while times and times[0] < oldest:
            times.popleft()
        if len(times) >= self.threshold:
            error = record.error_type or f"HTTP {record.status}"
            alert = failures_alert(record.model_group, len(times), self.window_seconds, error)
            if self.raise_alert(alert):
                times.clear()  # the next alert counts failures from here

    def share(self, counters: SharedCounters) -> None:
        """Count failures and claim alerts in a store every process shares."""
        self.shared = counters

    async def count_record(self, record: CallRecord) -> None:
        """`note_record`, counted in the shared store when there is one (off the request path)."""
        if self.shared is None:
            self.note_record(record)
            return
        if not counts_as_failure(record):
            return
        group = record.model_group
        count, burst = await self.shared.fail(
            f"alert-failures:{group}", f"alert-burst:{group}", self.threshold - 1, BURST_KEY_SECONDS
        )
        if burst:
            error = record.error_type or f"HTTP {record.status}"
            self.raise_alert(failures_alert(group, int(count), self.window_seconds, error))

    async def _claimed(self, alert: Alert) -> bool:
        """Whether this process delivers the alert: the first to claim its subject in the shared store."""
        if self.shared is None:
            return True
        try:
            return await self.shared.claim(f"alert:{alert.subject}", self.repeat_seconds)
        except Exception as exc:  # rather twice than never
            log.debug("alerting: claiming %s failed: %s", alert.subject, exc)
            return True

    def watch_sinks(self, stats: SinkStats) -> None:
        """Poll a dispatcher's per-sink counters; a sink whose `dropped` or `credential_failures` grew raises
        an alert."""
        self._sink_stats.append(stats)

    def check_sinks(self) -> None:
        for source in self._sink_stats:
            for name, counters in source().items():
                if name == "alerting":
                    continue  # our own lane: alerting about it would feed itself
                dropped = int(counters.get("dropped", 0))
                seen = self._dropped_seen.get(name, 0)
                if dropped > seen and self.raise_alert(dropped_alert(name, dropped - seen, dropped)):
                    self._dropped_seen[name] = dropped
                refused = int(counters.get("credential_failures", 0))
                if refused > self._refusals_seen.get(name, 0) and self.raise_alert(
                    credentials_alert(name, refused)
                ):
                    self._refusals_seen[name] = refused

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._tasks:
            return
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._tasks.append(asyncio.create_task(self._deliver_forever(), name="alerting:deliver"))
        if self._sink_stats:
            self._tasks.append(asyncio.create_task(self._poll_forever(), name="alerting:poll"))

    async def aclose(self, timeout: float = 5.0) -> None:
        """Check the sinks one last time, deliver what is queued within `timeout`, close the channels."""
        self._closing = True
        with contextlib.suppress(Exception):
            self.check_sinks()
        if self._wake is not None:
            self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
        for channel in self.channels:
            with contextlib.suppress(Exception):
                await channel.aclose()

    def stats(self) -> dict[str, int]:
        return {
            "raised": self.raised,
            "suppressed": self.suppressed,
            "delivered": self.delivered,
            "failed": self.failed,
            "queued": len(self._queue),
        }

    # ------------------------------------------------------------------ background
    async def _poll_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.poll_seconds)
            try:
                self.check_sinks()
            except Exception:
                log.exception("alerting: could not read the sinks' counters")

    async def _deliver_forever(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            alert = self._queue.popleft()
            if not await self._claimed(alert):
                self.suppressed += 1  # another process sends it
                continue
            log.warning("alert: %s", alert.text)
            if self.channels:
                await asyncio.gather(*(self._send(channel, alert) for channel in self.channels))

    async def _send(self, channel: Channel, alert: Alert) -> None:
        for attempt in range(1, self.send_attempts + 1):
            try:
                await channel.send(alert)
            except RetryableSinkError as error:
                if attempt < self.send_attempts and not self._closing:
                    await asyncio.sleep(self.retry_seconds * attempt)
                    continue
                self.failed += 1
                log.error("alerting: %s could not deliver %s: %s", channel.name, alert.subject, error)
                return
            except Exception as error:
                self.failed += 1
                log.error("alerting: %s could not deliver %s: %s", channel.name, alert.subject, error)
                return
            self.delivered += 1
            return
