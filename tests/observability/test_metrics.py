"""/metrics as a Prometheus server and LiteLLM dashboards read it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bedrock_proxy.observability.metrics import COOLDOWN, HEALTHY, GatewayMetrics
from bedrock_proxy.observability.record import Usage
from tests.observability.records import T0, record


def samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(all_samples, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in all_samples.items() if n == name and set(labels.items()) <= ls]
    assert matches, f"no sample {name} {labels}"
    return sum(matches)


def test_a_successful_streamed_call_shows_up_under_our_names_and_litellm_names() -> None:
    m = GatewayMetrics()
    m.request_started("/v1/chat/completions")
    rec = record(stream=True, first_token_time=T0 + 0.2, api_key_alias="team-a", cost=0.5)
    m.request_finished(rec, overhead_seconds=0.0004)
    m.request_ended("/v1/chat/completions")
    s = samples(m)
    group = {"model_group": "claude-3-5-sonnet"}
    assert value(s, "bedrock_proxy_requests_total", status="200", **group) == 1
    assert value(s, "bedrock_proxy_request_duration_seconds_count", **group) == 1
    assert value(s, "bedrock_proxy_time_to_first_token_seconds_sum", **group) == pytest.approx(0.2)
    assert value(s, "bedrock_proxy_overhead_seconds_sum", **group) == 0.0004
    assert value(s, "bedrock_proxy_tokens_total", direction="input", **group) == 12
    assert value(s, "bedrock_proxy_tokens_total", direction="output", **group) == 9
    assert value(s, "bedrock_proxy_spend_usd_total", **group) == 0.5
    assert value(s, "bedrock_proxy_in_flight_requests", route="/v1/chat/completions") == 0
    lite = {"requested_model": "claude-3-5-sonnet", "api_key_alias": "team-a"}
    assert value(s, "litellm_proxy_total_requests_metric_total", status_code="200", **lite) == 1
    assert value(s, "litellm_request_total_latency_metric_count", **lite) == 1
    assert value(s, "litellm_llm_api_latency_metric_sum", **lite) == pytest.approx(0.49)
    assert value(s, "litellm_llm_api_time_to_first_token_metric_count", **lite) == 1
    assert value(s, "litellm_overhead_latency_metric_count", **lite) == 1
    assert value(s, "litellm_input_tokens_metric_total", **lite) == 12
    assert value(s, "litellm_output_tokens_metric_total", **lite) == 9
    assert value(s, "litellm_spend_metric_total", **lite) == 0.5
    assert (
        value(s, "litellm_input_tokens_metric_total", model="eu.anthropic.claude-3-5-sonnet-20241022-v2:0")
        == 12
    )


def test_prompt_cache_reads_and_writes_are_counted_apart_from_the_input_they_are_part_of() -> None:
    m = GatewayMetrics()
    usage = Usage(prompt_tokens=2000, completion_tokens=5, cache_read_tokens=1500, cache_write_tokens=400)
    m.request_finished(record(usage=usage), 0.001)
    s = samples(m)
    group = {"model_group": "claude-3-5-sonnet"}
    assert value(s, "bedrock_proxy_tokens_total", direction="input", **group) == 2000
    assert value(s, "bedrock_proxy_prompt_cache_tokens_total", kind="read", **group) == 1500
    assert value(s, "bedrock_proxy_prompt_cache_tokens_total", kind="write", **group) == 400


def test_failures_are_counted_by_error_type() -> None:
    m = GatewayMetrics()
    m.request_finished(record(status=429, error_type="ThrottlingException", usage=Usage()), 0.001)
    m.request_finished(record(status=504, error_type=None, usage=Usage()), 0.001)
    s = samples(m)
    assert value(s, "bedrock_proxy_request_failures_total", error_type="ThrottlingException") == 1
    assert value(s, "bedrock_proxy_request_failures_total", error_type="http_504") == 1
    assert (
        value(
            s,
            "litellm_proxy_failed_requests_metric_total",
            exception_status="429",
            exception_class="ThrottlingException",
        )
        == 1
    )


def test_in_flight_counts_requests_being_served() -> None:
    m = GatewayMetrics()
    m.request_started("/v1/embeddings")
    m.request_started("/v1/embeddings")
    m.request_ended("/v1/embeddings")
    assert value(samples(m), "bedrock_proxy_in_flight_requests", route="/v1/embeddings") == 1


def test_deployment_state_cooldowns_retries_and_fallbacks() -> None:
    m = GatewayMetrics()
    m.set_deployment_state("claude-eu-1", "claude-3-5-sonnet", COOLDOWN, region="eu-west-1")
    m.set_deployment_state("claude-eu-1", "claude-3-5-sonnet", COOLDOWN)  # still the same cooldown
    m.set_deployment_state("claude-eu-2", "claude-3-5-sonnet", HEALTHY)
    m.retry("claude-3-5-sonnet", "claude-eu-1", "ThrottlingException")
    m.fallback("claude-3-5-sonnet", "claude-3-haiku")
    s = samples(m)
    assert value(s, "bedrock_proxy_deployment_state", deployment="claude-eu-1") == 2
    assert value(s, "bedrock_proxy_deployment_state", deployment="claude-eu-2") == 0
    assert value(s, "bedrock_proxy_deployment_cooldowns_total", deployment="claude-eu-1") == 1
    assert (
        value(s, "litellm_deployment_state", model_id="claude-eu-1", litellm_model_name="claude-3-5-sonnet")
        == 2
    )
    assert value(s, "bedrock_proxy_retries_total", error_type="ThrottlingException") == 1
    assert (
        value(s, "bedrock_proxy_fallbacks_total", from_group="claude-3-5-sonnet", to_group="claude-3-haiku")
        == 1
    )


def test_sink_queue_depth_and_outcomes_are_read_at_scrape_time() -> None:
    m = GatewayMetrics()
    stats = {"langfuse": {"queued": 3, "delivered": 10, "retried": 2, "dropped": 1}}
    m.add_sink_stats(lambda: stats)
    s = samples(m)
    assert value(s, "bedrock_proxy_sink_queue_depth", sink="langfuse") == 3
    assert value(s, "bedrock_proxy_sink_records_total", sink="langfuse", outcome="dropped") == 1
    stats["langfuse"]["dropped"] = 4
    assert value(samples(m), "bedrock_proxy_sink_records_total", sink="langfuse", outcome="dropped") == 4


def test_key_spend_and_spend_limits_are_read_at_scrape_time() -> None:
    m = GatewayMetrics()
    assert not any(name.startswith("bedrock_proxy_key_") for name, _ in samples(m))  # no ledger: no gauges
    spent = {"team-a": 12.5, "master_key": 3.0}
    m.add_key_budgets(
        lambda: [
            ("team-a", "a1" * 32, spent["team-a"], 100.0),
            ("master_key", "b2" * 32, spent["master_key"], None),
        ]
    )
    all_samples = samples(m)
    assert value(all_samples, "bedrock_proxy_key_spend_usd", api_key_alias="team-a") == 12.5
    assert value(all_samples, "bedrock_proxy_key_spend_limit_usd", api_key_alias="team-a") == 100.0
    assert (
        "bedrock_proxy_key_spend_limit_usd",
        frozenset({("api_key_alias", "master_key")}),
    ) not in all_samples
    spent["team-a"] = 20.0
    assert value(samples(m), "bedrock_proxy_key_spend_usd", api_key_alias="team-a") == 20.0
    # while /metrics is public a key is named by its digest, as on every other api_key_alias label
    public = GatewayMetrics(key_aliases=False)
    public.add_key_budgets(lambda: [("team-a", "a1" * 32, 1.0, 100.0)])
    assert value(samples(public), "bedrock_proxy_key_spend_limit_usd", api_key_alias="key-a1a1a1a1") == 100.0
    assert not any(("api_key_alias", "team-a") in labels for _, labels in samples(public))


def test_label_values_from_clients_are_bounded() -> None:
    m = GatewayMetrics(max_label_values=3)
    for i in range(10):
        # an unknown model never reaches Bedrock: no attempts
        m.request_finished(record(model_group=f"made-up-{i}", status=404, usage=Usage(), attempts=()), 0.0)
    groups = {dict(ls)["model_group"] for (n, ls) in samples(m) if n == "bedrock_proxy_requests_total"}
    assert groups == {"made-up-0", "made-up-1", "made-up-2", "other"}


def test_each_gateway_can_have_its_own_registry() -> None:
    a, b = GatewayMetrics(), GatewayMetrics()
    a.request_finished(record(), 0.0)
    assert value(samples(a), "bedrock_proxy_requests_total") == 1
    assert not [k for k in samples(b) if k[0] == "bedrock_proxy_requests_total"]


@pytest.mark.parametrize(
    ("asked", "label"),
    [
        ("claude-3-haiku", "claude-3-haiku"),  # a configured name
        ("fast", "fast"),  # an alias
        ("claude-sonnet-4-5", "claude-*"),  # a name a wildcard model_name serves: the pattern
        ("gpt-4o", "unknown"),  # anything else: one bucket
        ("made-up-1", "unknown"),
    ],
)
def test_model_labels_take_only_configured_names(asked: str, label: str) -> None:
    m = GatewayMetrics()
    m.limit_model_labels(["claude-3-haiku", "claude-*", "fast"])
    m.request_finished(record(model_group=asked, status=404, usage=Usage(), attempts=()), 0.0)
    groups = {dict(ls)["model_group"] for (n, ls) in samples(m) if n == "bedrock_proxy_requests_total"}
    assert groups == {label}


def test_a_public_metrics_page_shows_key_digests_not_aliases() -> None:
    public, private = GatewayMetrics(key_aliases=False), GatewayMetrics()
    for m in (public, private):
        m.request_finished(record(api_key_alias="team-a", api_key_id="ab12cd34ef" + "0" * 54), 0.0)
    alias = lambda m: {dict(ls).get("api_key_alias") for (n, ls) in samples(m)} - {None}  # noqa: E731
    assert alias(public) == {"key-ab12cd34"}
    assert alias(private) == {"team-a"}
