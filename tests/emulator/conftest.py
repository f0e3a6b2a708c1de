"""Fixtures: an emulator in a thread (SigV4 on, the example key pair) and real boto3 clients pointed at it."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer

from bedrock_proxy.emulator import EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY, EmulatorOptions, start_in_thread
from bedrock_proxy.emulator.server import RunningEmulator

REGION = "eu-west-1"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=5, connect_timeout=2)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": [{"text": text}]}]


def make_client(
    service: str,
    url: str,
    config: Config = NO_RETRIES,
    region: str = REGION,
    verify: str | None = None,
    **credentials: str,
):
    credentials.setdefault("aws_access_key_id", EXAMPLE_ACCESS_KEY)
    credentials.setdefault("aws_secret_access_key", EXAMPLE_SECRET_KEY)
    return boto3.client(
        service, region_name=region, endpoint_url=url, config=config, verify=verify, **credentials
    )


@pytest.fixture(scope="session")
def emulator() -> Iterator[RunningEmulator]:
    with start_in_thread(EmulatorOptions(timeout_cap=5.0, slow_latency=0.3)) as running:
        yield running


@pytest.fixture(scope="session")
def open_emulator() -> Iterator[RunningEmulator]:
    """No signature check: for raw HTTP requests."""
    with start_in_thread(EmulatorOptions(verify=False)) as running:
        yield running


@pytest.fixture(scope="session")
def runtime(emulator: RunningEmulator):
    return make_client("bedrock-runtime", emulator.url)


@pytest.fixture(scope="session")
def control(emulator: RunningEmulator):
    return make_client("bedrock", emulator.url)


@pytest.fixture(scope="session")
def runtime_at(emulator: RunningEmulator) -> Callable[..., object]:
    """A bedrock-runtime client whose endpoint carries a `/_emu/<spec>` prefix."""

    def build(spec: str, config: Config = NO_RETRIES):
        return make_client("bedrock-runtime", f"{emulator.url}/_emu/{spec}", config)

    return build


def raw_post(
    url: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    """An unsigned POST (for the no-verify emulator): status, lower-cased headers, body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST", path, body=body, headers={"content-type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def decode_frames(data: bytes) -> list[tuple[dict, dict]]:
    """Event-stream frames -> (headers, JSON payload), decoded by botocore (which checks both CRCs)."""
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, orjson.loads(message.payload)) for message in buffer]
