"""Issue 14, finding 10: the log line of a request the client abandoned reads as what happened, not as
`failed with 499 (None): None`; other failures never print None either."""

from __future__ import annotations

import logging

import pytest

from bedrock_proxy.server.records import Recorder
from tests.observability.records import record


class Sink:
    def __init__(self) -> None:
        self.records: list = []

    def submit(self, item: object) -> None:
        self.records.append(item)


def test_a_client_disconnect_is_logged_in_words(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bedrock_proxy.requests")
    Recorder(Sink(), log_messages=True).submit(record(status=499, error_type=None, error_message=None))
    line = caplog.messages[-1]
    assert "None" not in line and "499" not in line
    assert "client closed the connection after 500 ms" in line and "claude-3-5-sonnet" in line


def test_a_failure_without_a_message_never_prints_none(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bedrock_proxy.requests")
    Recorder(Sink(), log_messages=True).submit(record(status=502, error_type=None, error_message=None))
    line = caplog.messages[-1]
    assert "failed with 502" in line and "None" not in line
