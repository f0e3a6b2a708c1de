"""The fuzz tests get a gateway of their own: what thousands of hostile requests leave behind in a process
(connections, stored responses, cache entries, image-fetch slots) must not decide the outcome of the other
tests, which share the session's gateway."""

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
