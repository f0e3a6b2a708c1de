"""http(s) image URLs: fetched for Bedrock (which takes only bytes) with a size limit, a timeout and no
redirect tricks. The network here is loopback only, so this gateway runs in-process with a fetcher that may
reach 127.0.0.1 (the public gateway never can: see test_errors); an image server answers beside it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import openai
import pytest
from openai import OpenAI

from bedrock_proxy.server.images import ImageFetcher
from tests.gateway.images import png
from tests.support.inprocess import emulator_deployment, gateway_in_thread, http_server

MAX_BYTES = 50_000
FETCH_TIMEOUT = 1.0


class ImageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, content_type, status, extra = png(), "image/png", 200, {}
        if self.path.startswith("/big"):
            body = png() + b"\0" * (MAX_BYTES + 1)
        elif self.path == "/slow.png":
            time.sleep(FETCH_TIMEOUT * 3)
        elif self.path == "/page.html":
            body, content_type = b"<html>not an image</html>", "text/html"
        elif self.path == "/missing.png":
            body, status = b"", 404
        elif self.path.startswith("/hop"):
            hops = int(self.path[4:] or 0)
            body, status, extra = b"", 302, {"Location": "/cat.png" if hops == 0 else f"/hop{hops - 1}"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if self.path != "/big-undeclared.png":  # without it the size is only known while reading
            self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # the gateway hung up on a too big or too slow image
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    with http_server(ImageHandler) as url:
        yield url


@pytest.fixture(scope="module")
def fetching_client(emulator_url: str) -> Iterator[OpenAI]:
    config = f"""
model_list:
{emulator_deployment(emulator_url, "claude-3-haiku", "anthropic.claude-3-haiku-20240307-v1:0")}
  - model_name: titan-text-express
    litellm_params:
      model: bedrock/amazon.titan-text-express-v1
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {emulator_url}
"""
    fetcher = ImageFetcher(allow_private=True, max_bytes=MAX_BYTES, timeout=FETCH_TIMEOUT)
    with gateway_in_thread(config, image_fetcher=fetcher) as url:
        yield OpenAI(api_key="unused", base_url=f"{url}/v1", max_retries=0, timeout=30)


def ask(client: OpenAI, url: str, model: str = "claude-3-haiku") -> object:
    return client.chat.completions.create(
        model=model,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Que montre cette image ?"},
                    {"type": "image_url", "image_url": {"url": url, "detail": "auto"}},
                ],
            }
        ],
    )


@pytest.mark.parametrize("path", ["/cat.png", "/hop2"], ids=["direct", "two-redirects"])
def test_an_image_url_is_fetched_and_sent_to_bedrock(
    fetching_client: OpenAI, image_server: str, path: str
) -> None:
    response = ask(fetching_client, image_server + path)
    assert response.choices[0].message.content
    assert response.usage.prompt_tokens > 1000, "the emulator counted an image"


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/big.png", f"larger than {MAX_BYTES} bytes"),
        ("/big-undeclared.png", f"larger than {MAX_BYTES} bytes"),
        ("/slow.png", f"no answer within {FETCH_TIMEOUT:g} s"),
        ("/page.html", "not a png, jpeg, gif or webp image"),
        ("/missing.png", "HTTP 404"),
        ("/hop9", "more than 3 redirects"),
    ],
    ids=["too-big", "too-big-undeclared", "too-slow", "not-an-image", "not-found", "redirect-loop"],
)
def test_an_image_url_that_cannot_be_used_is_a_400_saying_why(
    fetching_client: OpenAI, image_server: str, path: str, fragment: str
) -> None:
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as caught:
        ask(fetching_client, image_server + path)
    assert caught.value.body["code"] == "invalid_image_url"
    assert fragment in caught.value.body["message"]
    assert time.monotonic() - started < FETCH_TIMEOUT + 10


def test_an_image_url_to_a_model_without_vision_is_refused(
    fetching_client: OpenAI, image_server: str
) -> None:
    with pytest.raises(openai.BadRequestError, match="does not accept images"):
        ask(fetching_client, image_server + "/cat.png", model="titan-text-express")
