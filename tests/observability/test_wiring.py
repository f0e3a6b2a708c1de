"""The small pieces the server wires in: overhead, label values, raw-log shortening, delivery knobs."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bedrock_proxy.config.schema import Settings
from bedrock_proxy.observability.hub import Observability
from bedrock_proxy.observability.logs import REDACTED, redact
from bedrock_proxy.observability.metrics import GatewayMetrics, overhead_seconds
from bedrock_proxy.observability.rawlog import shorten_vectors
from bedrock_proxy.observability.record import Usage
from bedrock_proxy.openai.usage import usage_from_openai
from bedrock_proxy.server.context import RequestContext, current_request
from bedrock_proxy.server.records import Recorder
from tests.observability.records import T0, record

ENV = {
    "LANGFUSE_PUBLIC_KEY": "pk-lf-x",
    "LANGFUSE_SECRET_KEY": "sk-lf-x",
    "LANGFUSE_HOST": "http://127.0.0.1:9",
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"end_time": T0 + 0.5, "upstream_latency": 0.49}, 0.01),
        (
            {"stream": True, "first_token_time": T0 + 0.2, "end_time": T0 + 5.0, "upstream_latency": 0.19},
            0.01,
        ),
        ({"stream": True, "first_token_time": None, "end_time": T0 + 0.3, "upstream_latency": 0.1}, 0.2),
        ({"end_time": T0 + 0.1, "upstream_latency": 0.2}, 0.0),
    ],
    ids=["total-minus-upstream", "stream-up-to-first-token", "stream-that-never-started", "never-negative"],
)
def test_overhead_is_what_the_gateway_added_to_bedrocks_time(fields: dict, expected: float) -> None:
    assert overhead_seconds(record(**fields)) == pytest.approx(
        expected, abs=1e-6
    )  # wall-clock floats: microseconds


def test_deployment_ids_keep_their_hash_and_known_values_survive_the_label_cap() -> None:
    m = GatewayMetrics(max_label_values=2)
    m.set_deployment_state("claude-3-haiku#0", "claude-3-haiku", 1)
    m.request_finished(record(model_group="claude-3-haiku", attempts=()), 0.0)
    for i in range(5):
        m.request_finished(record(model_group=f"made-up-{i}", status=404, attempts=()), 0.0)
    m.request_finished(record(model_group="claude-3-haiku", attempts=()), 0.0)
    body, _ = m.render()
    samples = [
        (s.name, s.labels, s.value) for f in text_string_to_metric_families(body.decode()) for s in f.samples
    ]
    assert (
        "bedrock_proxy_deployment_state",
        {"deployment": "claude-3-haiku#0", "model_group": "claude-3-haiku"},
        1.0,
    ) in samples
    assert (
        "bedrock_proxy_requests_total",
        {"model_group": "claude-3-haiku", "status": "200"},
        2.0,
    ) in samples


def test_raw_logs_shorten_embedding_vectors_but_keep_other_lists() -> None:
    answer = {
        "embedding": [0.1] * 1024,
        "embeddingsByType": {"float": [0.2] * 8},
        "tags": ["a", "b", "c", "d", "e"],
    }
    assert shorten_vectors(answer) == {
        "embedding": [0.1, 0.1, 0.1, 0.1, "... 1024 values"],
        "embeddingsByType": {"float": [0.2, 0.2, 0.2, 0.2, "... 8 values"]},
        "tags": ["a", "b", "c", "d", "e"],
    }


def test_token_counts_in_bedrock_bodies_are_not_mistaken_for_secrets() -> None:
    usage = {
        "inputTokens": 3,
        "cacheWriteInputTokens": 2,
        "maxTokens": 10,
        "sessionToken": "abc",
        "token": "t",
    }
    assert redact(usage) == {
        "inputTokens": 3,
        "cacheWriteInputTokens": 2,
        "maxTokens": 10,
        "sessionToken": REDACTED,
        "token": REDACTED,
    }


def test_delivery_knobs_come_from_the_environment() -> None:
    env = {**ENV, "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.2", "BEDROCK_PROXY_SINK_FLUSH_SECONDS": "3"}
    obs = Observability.from_settings(Settings(success_callbacks=["langfuse"]), env)
    assert obs.dispatcher.backoff_max == 0.2 and obs.dispatcher.backoff_base == 0.2
    assert obs.flush_seconds == 3.0
    assert Observability.from_settings(Settings(), ENV).flush_seconds == 20.0


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_delivery_knob_stops_the_start_naming_it(value: str) -> None:
    with pytest.raises(ValueError, match="BEDROCK_PROXY_SINK_FLUSH_SECONDS"):
        Observability.from_settings(Settings(), {**ENV, "BEDROCK_PROXY_SINK_FLUSH_SECONDS": value})


def test_every_submitted_record_is_counted_in_the_metrics() -> None:
    obs = Observability.from_settings(Settings(), ENV)
    obs.submit(record(status=200))
    obs.submit(record(status=503, error_type="ServiceUnavailableException", attempts=()))
    body, _ = obs.metrics.render()
    text = body.decode()
    assert 'bedrock_proxy_requests_total{model_group="claude-3-5-sonnet",status="200"} 1.0' in text
    failures = 'bedrock_proxy_request_failures_total{error_type="ServiceUnavailableException",'
    assert failures + 'model_group="claude-3-5-sonnet"} 1.0' in text
    assert "bedrock_proxy_overhead_seconds_count" in text


def test_cache_writes_in_the_openai_usage_reach_the_record() -> None:
    usage = {
        "prompt_tokens": 103,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 60},
        "cache_creation_input_tokens": 40,
    }
    assert usage_from_openai(usage) == Usage(103, 2, cache_read_tokens=60, cache_write_tokens=40)


def test_a_request_is_recorded_once_even_if_two_records_are_submitted() -> None:
    obs = Observability.from_settings(Settings(), ENV)
    recorder = Recorder(obs, log_messages=True)
    ctx = RequestContext("one-request")
    token = current_request.set(ctx)
    try:
        recorder.submit(record(status=200))
        recorder.submit(record(status=500, attempts=()))
    finally:
        current_request.reset(token)
    assert ctx.recorded
    text = obs.metrics.render()[0].decode()
    assert 'status="200"} 1.0' in text and 'status="500"' not in text
