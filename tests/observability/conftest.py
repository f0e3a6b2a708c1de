from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.langfuse_server import FakeLangfuse

PUBLIC_KEY = "pk-lf-1234"
SECRET_KEY = "sk-lf-5678"


@pytest.fixture
def fake_langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(PUBLIC_KEY, SECRET_KEY)
    server.start()
    yield server
    server.stop()
