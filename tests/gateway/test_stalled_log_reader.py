"""A gateway whose log output nobody reads keeps answering (the hang found after the fuzz run).

Every refused request writes a log line. The gateway used to write them to stderr on the event loop's
thread, so once the reader stopped (here, as under the test suite, a pipe nobody drains; in production a
stuck log shipper) and the pipe's 64 KiB filled, the write blocked and with it every request, an image URL's
refusal and a plain chat alike, and even SIGTERM. A hostile client only had to send bad requests faster
than the log was read. Now the lines are written by a thread of their own (observability/logwriter.py).
"""

from __future__ import annotations

import fcntl
import json
import select
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from tests.conftest import seed_config
from tests.gateway.conftest import MASTER_KEY
from tests.support.processes import clean_env, free_port, running

ANSWER_WITHIN = 5.0  # seconds: a healthy gateway answers each of these in milliseconds


@pytest.fixture
def unread_gateway(emulator_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A gateway whose stdout and stderr go to a pipe this test does not read until it says so."""
    port = free_port()
    (tmp_path / "config.yaml").write_text(seed_config())
    env = clean_env(
        {"AWS_BEDROCK_RUNTIME_ENDPOINT": emulator_url, "DATABASE_URL": f"sqlite:///{tmp_path}/spend.db"}
    )
    args = ["serve", "--config", str(tmp_path / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)]
    with running(args, f"http://127.0.0.1:{port}/health/readiness", env) as process:
        yield f"http://127.0.0.1:{port}", process


def refused_request(url: str, number: int) -> tuple[int, float]:
    """A chat request for a model that does not exist: a 404 and one log line of about 600 bytes."""
    body = {"model": f"no-such-model-{number:05d}", "messages": [{"role": "user", "content": "x"}]}
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_WITHIN) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except TimeoutError:
        raise AssertionError(
            f"request {number} got no answer within {ANSWER_WITHIN} s: the gateway is stuck"
        ) from None
    return status, time.monotonic() - started


def fill_the_log_pipe(url: str, process: subprocess.Popen) -> int:
    """Refused requests whose log lines add up to twice what the unread pipe holds; each must be answered."""
    assert process.stdout is not None
    pipe_bytes = fcntl.fcntl(process.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    count = 2 * pipe_bytes // 400  # every line is longer than 400 bytes (it lists the configured models)
    for number in range(count):
        status, _ = refused_request(url, number)
        assert status == 404
    return count


def test_a_gateway_whose_log_is_not_read_keeps_answering(
    unread_gateway: tuple[str, subprocess.Popen],
) -> None:
    url, process = unread_gateway
    sent = fill_the_log_pipe(url, process)

    # the requests of tests/gateway/test_errors.py that hung after the fuzz, through the real SDK
    client = OpenAI(api_key=MASTER_KEY, base_url=f"{url}/v1", max_retries=0, timeout=ANSWER_WITHIN)
    image = {"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest/meta-data/iam"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": [image]}]
        )
    assert caught.value.body["code"] == "invalid_image_url"
    for _ in range(3):
        answer = client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Toujours là ?"}]
        )
        assert answer.choices[0].message.content

    # nothing was lost while the reader stalled: once it reads again, the last refusal's line comes out
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + 10
    while f"no-such-model-{sent - 1:05d}".encode() not in output:
        assert time.monotonic() < deadline, output[-2000:]
        if select.select([process.stdout], [], [], 0.5)[0]:
            output += process.stdout.read1(1 << 16)  # type: ignore[attr-defined]
    assert b"no-such-model-00000" in output


def test_a_gateway_whose_log_is_not_read_still_stops_on_sigterm(
    unread_gateway: tuple[str, subprocess.Popen],
) -> None:
    url, process = unread_gateway
    fill_the_log_pipe(url, process)
    started = time.monotonic()
    process.terminate()
    process.wait(timeout=10)  # it used to wait for a reader forever, until the harness killed it
    assert time.monotonic() - started < 10
