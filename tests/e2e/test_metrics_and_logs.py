"""GET /metrics after real traffic, parsed with the Prometheus client's parser; the gateway's log lines
(readable and JSON) with a request id on each, raw Bedrock bodies logged without secrets; retries and
fallbacks visible in metrics and in Langfuse."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import Usage
from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    EMBED_MODEL,
    EMBED_MODEL_ID,
    LANGFUSE_SECRET_KEY,
    LANGFUSE_SETTINGS,
    MASTER_KEY,
    REGION,
    Gateway,
    chat,
    eventually,
    langfuse_gateway,
    metric,
    metric_samples,
    new_id,
    post,
    sample,
)
from tests.fakes.langfuse_server import FakeLangfuse
from tests.support.processes import EXAMPLE_KEY_PAIR

FLAKY = "flaky-claude"


def flaky_models(emulator_url: str) -> str:
    """A group whose only deployment always answers ThrottlingException, retried once, then falls back."""
    return f"""  - model_name: {FLAKY}
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: {REGION}
      aws_bedrock_runtime_endpoint: {emulator_url}/_emu/fault=throttling
      max_retries: 1
"""


@pytest.fixture(scope="module")
def verbose(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Readable logs at DEBUG (set_verbose), Langfuse on, a flaky group that falls back to the good one."""
    settings = LANGFUSE_SETTINGS + f'  set_verbose: true\n  fallbacks: [{{"{FLAKY}": ["{CHAT_MODEL}"]}}]\n'
    with langfuse_gateway(
        fake_langfuse.url,
        tmp_path_factory.mktemp("verbose"),
        emulator_url=emulator_url,
        settings=settings,
        extra_models=flaky_models(emulator_url),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def json_logged(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    settings = LANGFUSE_SETTINGS + "  json_logs: true\n  log_raw_request_response: true\n"
    where = tmp_path_factory.mktemp("json")
    with langfuse_gateway(fake_langfuse.url, where, emulator_url=emulator_url, settings=settings) as running:
        yield running


def cost(model_id: str, usage: dict[str, int]) -> float:
    costs = cost_for(model_id, REGION, Usage(usage["prompt_tokens"], usage.get("completion_tokens", 0)))
    assert costs is not None
    return sum(costs)


def test_metrics_count_every_request_token_and_dollar_under_our_names_and_litellms(verbose: Gateway) -> None:
    before = metric_samples(verbose.url)
    answers = [chat(verbose.url, temperature=0.1) for _ in range(3)]
    streamed = chat(verbose.url, stream=True, stream_options={"include_usage": True})
    embedded = post(f"{verbose.url}/v1/embeddings", {"model": EMBED_MODEL, "input": "bonjour"})
    failed = chat(verbose.url, messages=[{"role": "user", "content": "x [[emu:fault=validation]]"}])
    unknown = chat(verbose.url, model="no-such-model")
    assert [a.status for a in answers] == [200, 200, 200]
    assert (streamed.status, embedded.status, failed.status, unknown.status) == (200, 200, 400, 404)
    usages = [a.body["usage"] for a in answers]
    usages.append(next(e["usage"] for e in streamed.body[:-1] if e.get("usage")))
    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    spend = sum(cost(CHAT_MODEL_ID, u) for u in usages)
    embed_tokens = embedded.body["usage"]["prompt_tokens"]

    after = metric_samples(verbose.url)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    group = {"model_group": CHAT_MODEL}
    lite = {"requested_model": CHAT_MODEL}
    assert grew("bedrock_proxy_requests_total", status="200", **group) == 4
    assert grew("bedrock_proxy_requests_total", status="400", **group) == 1
    # a model name that is not configured is counted under one `unknown` label (issue 14, finding 9)
    assert grew("bedrock_proxy_requests_total", model_group="unknown", status="404") == 1
    assert not any(labels.get("model_group") == "no-such-model" for _, labels, _ in after)
    assert grew("bedrock_proxy_requests_total", model_group=EMBED_MODEL, status="200") == 1
    assert grew("litellm_proxy_total_requests_metric_total", status_code="200", **lite) == 4
    assert grew("bedrock_proxy_request_failures_total", error_type="ValidationException", **group) == 1
    assert (
        grew(
            "litellm_proxy_failed_requests_metric_total",
            exception_status="400",
            exception_class="ValidationException",
            **lite,
        )
        == 1
    )
    assert grew("bedrock_proxy_tokens_total", direction="input", **group) == prompt
    assert grew("bedrock_proxy_tokens_total", direction="output", **group) == completion
    assert grew("bedrock_proxy_tokens_total", model_group=EMBED_MODEL, direction="input") == embed_tokens
    assert grew("litellm_input_tokens_metric_total", model=CHAT_MODEL_ID, **lite) == prompt
    assert grew("litellm_output_tokens_metric_total", model=CHAT_MODEL_ID, **lite) == completion
    assert grew("bedrock_proxy_spend_usd_total", **group) == pytest.approx(spend, rel=1e-6)
    assert grew("litellm_spend_metric_total", **lite) == pytest.approx(spend, rel=1e-6)
    assert grew("bedrock_proxy_spend_usd_total", model_group=EMBED_MODEL) == pytest.approx(
        cost(EMBED_MODEL_ID, embedded.body["usage"]), rel=1e-6
    )
    for histogram in (
        "bedrock_proxy_request_duration_seconds_count",
        "bedrock_proxy_overhead_seconds_count",
    ):
        assert grew(histogram, **group) == 5
    for histogram in ("litellm_request_total_latency_metric_count", "litellm_overhead_latency_metric_count"):
        assert grew(histogram, **lite) == 5
    assert grew("bedrock_proxy_upstream_duration_seconds_count", **group) == 5
    assert grew("litellm_llm_api_latency_metric_count", **lite) == 5
    assert grew("bedrock_proxy_time_to_first_token_seconds_count", **group) == 1
    assert grew("litellm_llm_api_time_to_first_token_metric_count", **lite) == 1
    assert sample(after, "bedrock_proxy_in_flight_requests", route="/v1/chat/completions") == 0
    assert (
        sample(
            after,
            "litellm_deployment_state",
            litellm_model_name=CHAT_MODEL,
            model_id=f"{CHAT_MODEL}#0",
            api_base=REGION,
            api_provider="bedrock",
        )
        == 0
    )
    assert sample(after, "bedrock_proxy_deployment_state", deployment=f"{EMBED_MODEL}#0") == 0
    eventually(
        lambda: (
            metric(metric_samples(verbose.url), "bedrock_proxy_sink_records_total", outcome="delivered")
            >= metric(after, "bedrock_proxy_requests_total")
        ),
        message="every record should reach Langfuse",
    )
    assert metric(metric_samples(verbose.url), "bedrock_proxy_sink_records_total", outcome="dropped") == 0


def test_a_retry_then_a_fallback_are_counted_and_each_attempt_is_visible_in_langfuse(
    verbose: Gateway, fake_langfuse: FakeLangfuse
) -> None:
    before = metric_samples(verbose.url)
    request_id = new_id()
    answer = chat(verbose.url, request_id, model=FLAKY)
    assert answer.status == 200, answer.body
    assert answer.headers["x-bedrock-proxy-fallback"] == "true"
    assert answer.headers["x-bedrock-proxy-attempts"] == "3"
    after = metric_samples(verbose.url)
    retries = metric(after, "bedrock_proxy_retries_total", model_group=FLAKY) - metric(
        before, "bedrock_proxy_retries_total", model_group=FLAKY
    )
    assert retries == 1
    fallbacks = metric(
        after, "bedrock_proxy_fallbacks_total", from_group=FLAKY, to_group=CHAT_MODEL
    ) - metric(before, "bedrock_proxy_fallbacks_total", from_group=FLAKY, to_group=CHAT_MODEL)
    assert fallbacks == 1
    assert (
        sample(after, "bedrock_proxy_deployment_state", deployment=f"{FLAKY}#0") >= 1
    )  # partial or cooldown

    def attempt_spans() -> list[dict] | None:
        spans = fake_langfuse.spans
        generation = next(
            (
                s
                for s in spans
                if s["attributes"].get("langfuse.observation.metadata.request_id") == request_id
                and s["attributes"]["langfuse.observation.type"] == "generation"
            ),
            None,
        )
        if generation is None:
            return None
        return sorted(
            (s for s in spans if s["parent_span_id"] == generation["span_id"]), key=lambda s: s["start_ns"]
        )

    attempts = eventually(attempt_spans)
    assert [s["attributes"]["langfuse.observation.metadata.deployment_id"] for s in attempts] == [
        f"{FLAKY}#0",
        f"{FLAKY}#0",
        f"{CHAT_MODEL}#0",
    ]
    assert [s["attributes"]["langfuse.observation.level"] for s in attempts] == [
        "WARNING",
        "WARNING",
        "DEFAULT",
    ]
    assert [s["attributes"]["langfuse.observation.metadata.is_fallback"] for s in attempts] == [
        False,
        False,
        True,
    ]
    assert "retry" in attempts[1]["name"] and "fallback" in attempts[2]["name"]
    assert attempts[0]["attributes"]["langfuse.observation.metadata.error_type"] == "ThrottlingException"


def test_readable_logs_carry_the_request_id_on_each_request_line(verbose: Gateway) -> None:
    request_id = new_id()
    assert chat(verbose.url, request_id).status == 200
    lines = eventually(lambda: [line for line in verbose.output().splitlines() if request_id in line])
    assert any(f"[{request_id}]" in line and "DEBUG bedrock_proxy.requests" in line for line in lines)


def test_json_logs_are_one_object_per_line_with_the_request_id(json_logged: Gateway) -> None:
    request_id = new_id()
    answer = chat(
        json_logged.url,
        request_id,
        messages=[{"role": "user", "content": "my key is sk-live-abcdef1234567890, bonjour"}],
    )
    assert answer.status == 200
    failing = new_id()
    assert chat(
        json_logged.url, failing, messages=[{"role": "user", "content": "[[emu:fault=internal]]"}]
    ).status
    embedding = new_id()
    assert post(
        f"{json_logged.url}/v1/embeddings", {"model": EMBED_MODEL, "input": "x"}, request_id=embedding
    )

    def lines() -> list[dict]:
        return [json.loads(line) for line in json_logged.output().splitlines() if line.strip()]

    records = eventually(
        lambda: [r for r in lines() if r["request_id"] == embedding and "response" in r["message"]]
    )
    everything = lines()  # each line parsed as JSON, or this raised
    assert all({"ts", "level", "logger", "message", "request_id"} <= set(r) for r in everything)

    mine = [r for r in everything if r["request_id"] == request_id]
    raw = [r for r in mine if r["logger"] == "bedrock_proxy.raw"]
    sent = next(r for r in raw if r["message"].startswith("bedrock request converse"))
    assert CHAT_MODEL_ID in sent["message"]
    body = json.loads(sent["message"].split(" ", 5)[-1])
    assert body["messages"][0]["role"] == "user"
    assert "sk-live-abcdef1234567890" not in sent["message"], "secrets in prompts are redacted too"
    received = next(r for r in raw if r["message"].startswith("bedrock response converse"))
    assert "Emulated answer: my key is" in received["message"]
    assert "sk-live-abcdef1234567890" not in received["message"]
    assert '"inputTokens":' in received["message"], "token counts are not secrets"

    failure = [r for r in everything if r["request_id"] == failing]
    assert any(r["logger"] == "bedrock_proxy.raw" and "bedrock error" in r["message"] for r in failure)
    assert any(r["level"] == "WARNING" and "failed with 500" in r["message"] for r in failure)
    assert "... 1024 values" in records[0]["message"], "embedding vectors are shortened in raw logs"

    output = json_logged.output()
    for secret in (MASTER_KEY, EXAMPLE_KEY_PAIR["AWS_SECRET_ACCESS_KEY"], LANGFUSE_SECRET_KEY):
        assert secret not in output
