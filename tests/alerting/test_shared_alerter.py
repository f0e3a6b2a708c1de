"""Alerters of several processes sharing one store (issue 12): two Alerters on one InMemoryState stand for
two gateway processes on one Redis (tests/router/test_shared_routing_e2e.py runs the real thing)."""

from __future__ import annotations

from bedrock_proxy.alerting import Alerter
from bedrock_proxy.alerting.alert import cooldown_alert
from bedrock_proxy.router.state import InMemoryState
from tests.alerting.test_alerter import GROUP, Recording, record


def pair(**options: float) -> tuple[Alerter, Alerter, Recording, Recording]:
    store = InMemoryState()
    channels = Recording(), Recording()
    first, second = (Alerter([channel], **options) for channel in channels)
    first.share(store)
    second.share(store)
    return first, second, *channels


async def test_a_failure_burst_counts_the_failures_of_every_process() -> None:
    first, second, _, _ = pair(threshold=5)
    for index in range(4):  # 2 + 2: below the threshold together
        await (first, second)[index % 2].count_record(record(500))
    assert first.raised + second.raised == 0
    await first.count_record(record(503))  # the fifth, wherever it lands
    assert (first.raised, second.raised) == (1, 0)
    [alert] = first._queue
    assert (alert.model_group, alert.count) == (GROUP, 5)
    await second.count_record(record(400))  # a client's mistake counts for no one
    assert first.raised + second.raised == 1


async def test_an_alert_raised_by_every_process_is_delivered_by_one() -> None:
    first, second, sent_first, sent_second = pair()
    for alerter in (first, second):  # each process noticed the same cooldown
        assert alerter.raise_alert(cooldown_alert("a#0", "a"))
        await alerter.start()
    for alerter in (first, second):
        await alerter.aclose()
    assert len(sent_first.alerts) + len(sent_second.alerts) == 1
    assert first.suppressed + second.suppressed == 1
