"""Callbacks from config.yaml become sinks; each record reaches the sinks its outcome asks for."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bedrock_proxy.config.schema import Settings
from bedrock_proxy.observability.hub import SUPPORTED_CALLBACKS, Observability
from bedrock_proxy.observability.langfuse import LangfuseLegacySink, LangfuseOtlpSink
from tests.fakes.langfuse_server import FakeLangfuse
from tests.observability.conftest import PUBLIC_KEY, SECRET_KEY
from tests.observability.records import record

LANGFUSE_ENV = {"LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY}


async def eventually(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("name", ["langsmith", "datadog", "langfuze"])
def test_unknown_callback_fails_at_start_up_listing_the_supported_ones(name: str) -> None:
    with pytest.raises(ValueError) as info:
        Observability.from_settings(Settings(success_callbacks=["langfuse", name]), LANGFUSE_ENV)
    assert name in str(info.value)
    for supported in SUPPORTED_CALLBACKS:
        assert supported in str(info.value)


@pytest.mark.parametrize(
    ("callback", "missing"),
    [
        ("langfuse", "LANGFUSE_PUBLIC_KEY"),
        ("webhook", "WEBHOOK_URL"),
        ("otel", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("traceloop", "TRACELOOP_API_KEY"),
        ("wandb", "WANDB_API_KEY"),
        ("helicone", "HELICONE_API_KEY"),
        ("lunary", "LUNARY_PUBLIC_KEY"),
        ("promptlayer", "PROMPTLAYER_API_KEY"),
    ],
)
def test_a_sink_without_its_settings_is_left_out_with_a_warning_naming_them(
    callback, missing, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="bedrock_proxy.observability"):
        observability = Observability.from_settings(
            Settings(success_callbacks=[callback, "webhook"], failure_callbacks=[callback]),
            {"WEBHOOK_URL": "http://127.0.0.1:9/hook"} if callback != "webhook" else {},
        )
    assert missing in caplog.text and "disabled" in caplog.text
    assert callback not in observability.success_sinks and callback not in observability.failure_sinks
    if callback != "webhook":
        assert observability.success_sinks == ("webhook",)


@pytest.mark.parametrize(
    ("callback", "environ", "invalid"),
    [
        ("webhook", {"WEBHOOK_URL": "http://x", "WEBHOOK_HEADERS": "not json"}, "WEBHOOK_HEADERS"),
        ("langfuse", {**LANGFUSE_ENV, "LANGFUSE_INGESTION": "v9"}, "LANGFUSE_INGESTION"),
    ],
)
def test_a_sink_with_an_invalid_setting_fails_at_start_up_naming_it(callback, environ, invalid) -> None:
    with pytest.raises(ValueError, match=invalid):
        Observability.from_settings(Settings(success_callbacks=[callback]), environ)


@pytest.mark.parametrize(
    ("environ", "sink_type"),
    [
        (LANGFUSE_ENV, LangfuseOtlpSink),
        ({**LANGFUSE_ENV, "LANGFUSE_INGESTION": "legacy"}, LangfuseLegacySink),
    ],
)
def test_langfuse_transport_is_chosen_by_langfuse_ingestion(environ, sink_type) -> None:
    obs = Observability.from_settings(Settings(success_callbacks=["langfuse"]), environ)
    assert [type(lane.sink) for lane in obs.dispatcher._lanes.values()] == [sink_type]


def test_prometheus_callback_needs_no_sink() -> None:
    obs = Observability.from_settings(Settings(success_callbacks=["prometheus"]), {})
    assert obs.stats() == {}


async def test_success_and_failure_records_go_to_their_sinks_once_each(fake_langfuse: FakeLangfuse) -> None:
    received: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", webhook)
    hook = TestServer(app, host="127.0.0.1")
    await hook.start_server()
    environ = {
        **LANGFUSE_ENV,
        "LANGFUSE_HOST": fake_langfuse.url,
        "WEBHOOK_URL": str(hook.make_url("/hook")),
        "WEBHOOK_HEADERS": '{"X-Team": "search"}',
    }
    settings = Settings(success_callbacks=["langfuse"], failure_callbacks=["langfuse", "webhook"])
    obs = Observability.from_settings(settings, environ)
    await obs.start()
    ok, failed = record(), record(status=500, error_type="InternalServerException", output=None)
    obs.submit(ok)
    obs.submit(failed)
    await obs.aclose(timeout=5)
    await hook.close()

    langfuse_ids = {
        s["attributes"]["langfuse.observation.metadata.request_id"]
        for s in fake_langfuse.spans
        if s["attributes"]["langfuse.observation.type"] == "generation"
    }
    assert langfuse_ids == {ok.request_id, failed.request_id}
    assert (
        len([s for s in fake_langfuse.spans if s["attributes"]["langfuse.observation.type"] == "generation"])
        == 2
    )
    assert [r["request_id"] for r in received] == [failed.request_id]
    assert received[0]["status"] == 500
    stats = obs.stats()
    assert stats["langfuse"]["delivered"] == 2
    assert stats["webhook"]["delivered"] == 1


async def test_webhook_leaves_messages_out_when_message_logging_is_off() -> None:
    received: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(orjson.loads(await request.read()))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", webhook)
    hook = TestServer(app, host="127.0.0.1")
    await hook.start_server()
    settings = Settings(success_callbacks=["webhook"], turn_off_message_logging=True)
    obs = Observability.from_settings(settings, {"WEBHOOK_URL": str(hook.make_url("/hook"))})
    await obs.start()
    obs.submit(record())
    await obs.aclose(timeout=5)
    await hook.close()
    assert received[0]["input"] is None
    assert received[0]["output"] is None
    assert received[0]["usage"]["total_tokens"] == 21


async def test_otel_sink_sends_gen_ai_spans_with_the_configured_headers(fake_langfuse: FakeLangfuse) -> None:
    import base64

    auth = base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
    environ = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": fake_langfuse.url + "/api/public/otel/v1/traces",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Basic%20{auth}",
    }
    obs = Observability.from_settings(Settings(callbacks=["otel"]), environ)
    await obs.start()
    obs.submit(record(params={"temperature": 0.5, "max_tokens": 10}))
    await obs.aclose(timeout=5)
    (span,) = fake_langfuse.spans
    attrs = span["attributes"]
    assert span["name"] == "chat claude-3-5-sonnet"
    assert attrs["gen_ai.system"] == "aws.bedrock"
    assert attrs["gen_ai.request.model"] == "claude-3-5-sonnet"
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]


async def test_submit_before_start_is_delivered_after_start(fake_langfuse: FakeLangfuse) -> None:
    obs = Observability.from_settings(
        Settings(success_callbacks=["langfuse"]), {**LANGFUSE_ENV, "LANGFUSE_HOST": fake_langfuse.url}
    )
    obs.submit(record())
    await obs.start()
    await eventually(lambda: obs.stats()["langfuse"]["delivered"] == 1)
    await obs.aclose()


def test_sink_counts_are_exposed_on_metrics() -> None:
    obs = Observability.from_settings(Settings(success_callbacks=["langfuse"]), LANGFUSE_ENV, queue_size=2)
    for _ in range(5):
        obs.submit(record())
    body, _ = obs.metrics.render()
    text = body.decode()
    assert 'bedrock_proxy_sink_queue_depth{sink="langfuse"} 2.0' in text
    assert 'bedrock_proxy_sink_records_total{outcome="dropped",sink="langfuse"} 3.0' in text
