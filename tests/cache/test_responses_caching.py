"""The Responses API through the response cache: a repeated request is answered from it (whole or as a
stream) under a new id, at zero cost, and stays continuable; a stored stream is served whole too."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from openai import OpenAI

from tests.cache.http import MASTER_KEY, post, upstream_requests
from tests.cache.test_gateway_caching import LOCAL_SETTINGS
from tests.conftest import seed_config
from tests.support.processes import gateway_process

RESPONSES = "/v1/responses"
_unique = itertools.count()


def question(**extra: object) -> dict:
    return {
        "model": "claude-3-haiku",
        "input": f"Question {next(_unique)} {time.time_ns()}: le ciel ?",
        **extra,
    }


@pytest.fixture(scope="module")
def cached_gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(
        seed_config(LOCAL_SETTINGS), tmp_path_factory.mktemp("responses-cache"), emulator_url=emulator_url
    ) as url:
        yield url


def test_a_repeated_response_comes_from_the_cache_under_a_new_id(
    cached_gateway: str, emulator_url: str
) -> None:
    body = question()
    status, headers, first = post(cached_gateway + RESPONSES, body)
    assert status == 200 and headers["x-bedrock-proxy-cache"] == "miss"
    before = upstream_requests(emulator_url)

    status, headers, second = post(cached_gateway + RESPONSES, body)
    assert status == 200 and headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before, "a hit does not call Bedrock"
    assert headers["x-litellm-response-cost"] == "0"
    assert second["id"] != first["id"] and second["id"].startswith("resp_")
    assert second["output"][0]["content"] == first["output"][0]["content"]
    assert second["output"][0]["id"] != first["output"][0]["id"]
    assert second["usage"] == first["usage"]

    client = OpenAI(api_key=MASTER_KEY, base_url=f"{cached_gateway}/v1", max_retries=0)
    assert client.responses.retrieve(second["id"]).output_text == second["output"][0]["content"][0]["text"]


def test_a_cached_response_is_replayed_as_a_stream(cached_gateway: str, emulator_url: str) -> None:
    body = question()
    post(cached_gateway + RESPONSES, body)
    before = upstream_requests(emulator_url)
    client = OpenAI(api_key=MASTER_KEY, base_url=f"{cached_gateway}/v1", max_retries=0)
    with client.responses.stream(**body) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert upstream_requests(emulator_url) == before
    types = [event.type for event in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.output_text.delta" in types
    assert final.output_text.startswith("Emulated answer")


def test_a_streamed_response_is_cached_for_the_next_plain_request(
    cached_gateway: str, emulator_url: str
) -> None:
    body = question()
    client = OpenAI(api_key=MASTER_KEY, base_url=f"{cached_gateway}/v1", max_retries=0)
    with client.responses.stream(**body) as stream:
        streamed = stream.get_final_response()
    before = upstream_requests(emulator_url)
    status, headers, again = post(cached_gateway + RESPONSES, body)
    assert status == 200 and headers["x-bedrock-proxy-cache"] == "hit"
    assert upstream_requests(emulator_url) == before
    assert again["output"][0]["content"][0]["text"] == streamed.output_text
