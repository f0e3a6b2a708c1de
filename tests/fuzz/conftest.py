"""The fuzz tests get a gateway of their own: what thousands of hostile requests leave behind in a process
(connections, stored responses, cache entries, log lines) must not decide the outcome of the other tests,
which share the session's gateway. (What the shared gateway once hung on after the fuzz was its own log: every
refused request writes a line, nobody reads the test's pipe, and the write blocked the event loop once the
pipe was full; tests/gateway/test_stalled_log_reader.py holds that case.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import seed_config
from tests.support.processes import gateway_process


@pytest.fixture(scope="package")
def gateway_url(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(
        seed_config(), tmp_path_factory.mktemp("fuzz-gateway"), emulator_url=emulator_url
    ) as url:
        yield url
