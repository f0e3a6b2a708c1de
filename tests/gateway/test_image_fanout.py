"""Issue 14, finding 7: image URLs no longer fan out without limit. One request with 300 image_url parts used
to open 300 outbound connections at once: now a request holds at most max_images_per_request images (a 400
before any fetch), and downloads at most max_image_fetches_per_request at once, and the process at most
max_image_fetches_per_process. The gateway runs in-process with a fetcher allowed to reach 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import openai
import pytest
from openai import OpenAI

from bedrock_proxy.server.images import ImageFetcher
from tests.gateway.images import png
from tests.support.inprocess import emulator_deployment, gateway_in_thread, http_server

PER_REQUEST = 2
PER_PROCESS = 3
MAX_IMAGES = 12


class Counting:
    """How many image downloads the server is answering at once, and the most it ever did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.total = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1

    def reset(self) -> None:
        with self.lock:
            self.now = self.most = self.total = 0


COUNT = Counting()


class SlowImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        COUNT.enter()
        try:
            time.sleep(0.15)
            body = png()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            COUNT.leave()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    with http_server(SlowImageHandler) as url:
        yield url


@pytest.fixture(scope="module")
def client(emulator_url: str) -> Iterator[OpenAI]:
    config = f"""
model_list:
{emulator_deployment(emulator_url, "claude-3-haiku", "anthropic.claude-3-haiku-20240307-v1:0")}
general_settings:
  max_images_per_request: {MAX_IMAGES}
"""
    fetcher = ImageFetcher(allow_private=True, per_request=PER_REQUEST, per_process=PER_PROCESS)
    with gateway_in_thread(config, image_fetcher=fetcher) as url:
        yield OpenAI(api_key="unused", base_url=f"{url}/v1", max_retries=0, timeout=60)


def ask(client: OpenAI, urls: list[str]) -> object:
    parts: list = [{"type": "text", "text": "Décris ces images."}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": parts}]
    )


def test_more_images_than_the_limit_is_a_400_before_any_fetch(client: OpenAI, image_server: str) -> None:
    COUNT.reset()
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, [f"{image_server}/{i}.png" for i in range(300)])
    error = caught.value.body
    assert error["code"] == "too_many_images" and error["param"] == "messages"
    assert f"at most {MAX_IMAGES}" in error["message"] and "max_images_per_request" in error["message"]
    assert COUNT.total == 0


def test_one_request_downloads_at_most_per_request_images_at_once(client: OpenAI, image_server: str) -> None:
    COUNT.reset()
    answer = ask(client, [f"{image_server}/{i}.png" for i in range(MAX_IMAGES)])
    assert answer.choices[0].message.content  # type: ignore[attr-defined]
    assert COUNT.total == MAX_IMAGES
    assert COUNT.most == PER_REQUEST


def test_the_process_downloads_at_most_per_process_images_at_once(client: OpenAI, image_server: str) -> None:
    COUNT.reset()
    with ThreadPoolExecutor(4) as pool:
        urls = [[f"{image_server}/{n}-{i}.png" for i in range(6)] for n in range(4)]
        answers = list(pool.map(lambda batch: ask(client, batch), urls))
    assert len(answers) == 4 and COUNT.total == 24
    assert COUNT.most == PER_PROCESS
