from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, Gateway, langfuse_gateway
from tests.fakes.langfuse_server import FakeLangfuse


@pytest.fixture(scope="module")
def fake_langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway process of the module's own exporting to its fake Langfuse over OTLP (a module that needs
    other sinks defines its own `proxy`)."""
    where = tmp_path_factory.mktemp("langfuse-otlp")
    with langfuse_gateway(fake_langfuse.url, where, emulator_url=emulator_url) as running:
        yield running
