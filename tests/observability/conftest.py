from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.fakes.helicone_server import FakeHelicone
from tests.fakes.langfuse_server import FakeLangfuse
from tests.fakes.lunary_server import FakeLunary

PUBLIC_KEY = "pk-lf-1234"
SECRET_KEY = "sk-lf-5678"
HELICONE_API_KEY = "sk-helicone-test"
LUNARY_PROJECT = str(uuid.uuid4())  # Lunary's public key is a project id


@pytest.fixture
def fake_langfuse() -> Iterator[FakeLangfuse]:
    server = FakeLangfuse(PUBLIC_KEY, SECRET_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_helicone() -> Iterator[FakeHelicone]:
    server = FakeHelicone(HELICONE_API_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_lunary() -> Iterator[FakeLunary]:
    server = FakeLunary(LUNARY_PROJECT)
    server.start()
    yield server
    server.stop()
