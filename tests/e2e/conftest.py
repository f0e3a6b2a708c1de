from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY
from tests.fakes.langfuse_server import FakeLangfuse


@pytest.fixture(scope="module")
def fake_langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
    server.start()
    yield server
    server.stop()
