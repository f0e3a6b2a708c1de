"""The fake Langfuse server is useful only if it keeps the real contract: the real SDK's exports land."""

from __future__ import annotations

import urllib.request

import orjson
from langfuse import Langfuse
from opentelemetry.sdk.trace import TracerProvider

from tests.fakes.langfuse_server import FakeLangfuse
from tests.observability.conftest import PUBLIC_KEY, SECRET_KEY


def _client(server: FakeLangfuse, public_key: str = PUBLIC_KEY) -> Langfuse:
    # The SDK keeps one exporter per public key for the whole process: each test uses its own key.
    return Langfuse(
        public_key=public_key,
        secret_key=SECRET_KEY,
        host=server.url,
        tracer_provider=TracerProvider(),
        flush_interval=0.1,
    )


def test_real_sdk_generation_is_accepted_and_decoded(fake_langfuse: FakeLangfuse) -> None:
    client = _client(fake_langfuse)
    generation = client.start_observation(
        name="sdk-generation",
        as_type="generation",
        model="anthropic.claude-3-haiku",
        input=[{"role": "user", "content": "hi"}],
        model_parameters={"temperature": 0.2},
    )
    generation.update(
        output={"role": "assistant", "content": "hello"}, usage_details={"input": 3, "output": 2}
    )
    generation.end()
    client.flush()
    client.shutdown()

    spans = fake_langfuse.spans
    assert [s["name"] for s in spans] == ["sdk-generation"]
    attrs = spans[0]["attributes"]
    assert attrs["langfuse.observation.type"] == "generation"
    assert attrs["langfuse.observation.model.name"] == "anthropic.claude-3-haiku"
    assert orjson.loads(attrs["langfuse.observation.usage_details"]) == {"input": 3, "output": 2}
    assert orjson.loads(attrs["langfuse.observation.input"]) == [{"role": "user", "content": "hi"}]
    assert spans[0]["content_type"] == "application/x-protobuf"
    assert fake_langfuse.counts["unauthorized"] == 0


def test_real_sdk_with_unknown_keys_is_refused_with_401(fake_langfuse: FakeLangfuse) -> None:
    client = _client(fake_langfuse, public_key="pk-lf-unknown")
    client.start_observation(name="refused", as_type="span").end()
    client.flush()
    client.shutdown()
    assert fake_langfuse.spans == []
    assert fake_langfuse.counts["unauthorized"] >= 1


def test_health_answers_like_langfuse(fake_langfuse: FakeLangfuse) -> None:
    with urllib.request.urlopen(fake_langfuse.url + "/api/public/health", timeout=5) as resp:
        assert resp.status == 200
        assert orjson.loads(resp.read())["status"] == "OK"
