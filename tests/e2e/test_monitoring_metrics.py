"""Every metric the Grafana dashboard and the Prometheus alert rules read (deploy/grafana, deploy/prometheus)
exists on /metrics of a running gateway after a few requests, with the labels they select and group by:
a renamed metric or label breaks this test, not a dashboard in production."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    LANGFUSE_SETTINGS,
    MASTER_KEY,
    REGION,
    TWO_MODELS,
    Gateway,
    eventually,
    gateway,
    langfuse_env,
)
from tests.fakes.langfuse_server import FakeLangfuse
from tests.support import promql

TEAM_KEY = "sk-team-a-monitoring-0123"
FLAKY = "flaky-claude"


def config(emulator_url: str) -> str:
    """Two models, a group whose two deployments are always throttled (retries, cooldowns, a fallback),
    a team key with an alias and a spend_limit, the response cache, a Langfuse sink and /metrics behind a
    key (so its api_key_alias labels show aliases, as the team spend panel wants)."""
    throttled = f"{emulator_url}/_emu/fault=throttling"
    flaky = "".join(
        f"""  - model_name: {FLAKY}
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: {REGION}
      aws_bedrock_runtime_endpoint: {throttled}
      max_retries: 1
"""
        for _ in range(2)
    )
    return f"""model_list:
{TWO_MODELS}{flaky}router_settings:
  allowed_fails: 0
general_settings:
  master_key: {MASTER_KEY}
  api_keys:
    - key: {TEAM_KEY}
      alias: team-a
      spend_limit: 100
litellm_settings:
  num_retries: 0
  require_auth_for_metrics_endpoint: true  # /metrics names keys by their alias
  cache: true
  cache_params:
    type: local
  fallbacks: [{{"{FLAKY}": ["{CHAT_MODEL}"]}}]
{LANGFUSE_SETTINGS}"""


@pytest.fixture(scope="module")
def exercised(
    fake_langfuse: FakeLangfuse, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway after a plain chat, the same chat again (a cache hit), a stream, a refused request and a
    request that is retried, cools deployments down and falls back."""
    with gateway(
        config(emulator_url),
        tmp_path_factory.mktemp("monitoring"),
        emulator_url=emulator_url,
        env=langfuse_env(fake_langfuse.url),
    ) as running:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key=TEAM_KEY, max_retries=0)
        messages = [{"role": "user", "content": "Bonjour, comment vas-tu?"}]
        for _ in range(2):
            client.chat.completions.create(model=CHAT_MODEL, messages=messages, max_tokens=40)
        stream = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=messages,
            max_tokens=40,
            stream=True,
            extra_body={"cache": {"no-cache": True}},
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=CHAT_MODEL, messages=messages, temperature=7)
        fallback = client.chat.completions.with_raw_response.create(
            model=FLAKY, messages=messages, max_tokens=20
        )
        assert fallback.headers["x-bedrock-proxy-fallback"] == "true"
        eventually(lambda: "bedrock_proxy_deployment_cooldowns_total" in samples(running))
        yield running


def scrape(running: Gateway) -> str:
    """GET /metrics with a key, as Prometheus does with `authorization: {credentials: ...}`."""
    request = urllib.request.Request(
        f"{running.url}/metrics", headers={"Authorization": f"Bearer {MASTER_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text: str = response.read().decode()
    return text


def samples(running: Gateway) -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets it has on /metrics."""
    out: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(scrape(running)):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(dict(sample.labels))
    return out


EXPRESSIONS = promql.dashboard_expressions() + promql.alert_expressions()


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=[e.where for e in EXPRESSIONS])
def test_what_the_dashboard_and_the_alerts_read_is_on_metrics(
    exercised: Gateway, expression: promql.Expression
) -> None:
    exposed = samples(exercised)
    assert expression.metrics, f"{expression.where}: no metric read from {expression.expr!r}"
    for metric in expression.metrics:
        assert metric in exposed, f"{expression.where}: {metric} is not on /metrics"
    for metric, labels in expression.matcher_labels.items():
        have = {label for label_set in exposed[metric] for label in label_set}
        assert labels <= have, f"{expression.where}: {metric} has no label {labels - have}"
    grouped_over = {label for metric in expression.metrics for s in exposed[metric] for label in s}
    missing = expression.grouping_labels - grouped_over
    assert not missing, f"{expression.where}: no metric it reads has the labels {missing}"


def test_the_team_spend_panel_shows_the_key_alias(exercised: Gateway) -> None:
    spend = samples(exercised)["litellm_spend_metric_total"]
    assert any(labels.get("api_key_alias") == "team-a" for labels in spend), spend


def test_each_key_s_spend_and_spend_limit_are_on_metrics(exercised: Gateway) -> None:
    """The budget gauges: the ledger's lifetime total of the key that made the calls, and its limit."""

    def team_a(name: str) -> float:
        for family in text_string_to_metric_families(scrape(exercised)):
            for sample in family.samples:
                if sample.name == name and sample.labels.get("api_key_alias") == "team-a":
                    return sample.value
        raise AssertionError(f"no {name} for team-a")

    assert team_a("bedrock_proxy_key_spend_limit_usd") == 100
    assert eventually(lambda: team_a("bedrock_proxy_key_spend_usd") > 0)
    assert team_a("bedrock_proxy_key_spend_usd") == pytest.approx(
        sum(value for labels, value in litellm_spend(exercised) if labels.get("api_key_alias") == "team-a")
    )


def litellm_spend(running: Gateway) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(scrape(running))
        for sample in family.samples
        if sample.name == "litellm_spend_metric_total"
    ]


def test_the_files_read_every_family_an_operator_needs() -> None:
    """Requests, errors, latency, TTFT, tokens, spend, deployment state and dropped records are all there."""
    read = {metric for expression in EXPRESSIONS for metric in expression.metrics}
    for needed in (
        "bedrock_proxy_requests_total",
        "bedrock_proxy_request_failures_total",
        "bedrock_proxy_request_duration_seconds_bucket",
        "bedrock_proxy_time_to_first_token_seconds_bucket",
        "bedrock_proxy_tokens_total",
        "bedrock_proxy_spend_usd_total",
        "litellm_spend_metric_total",
        "bedrock_proxy_deployment_state",
        "bedrock_proxy_sink_records_total",
        "bedrock_proxy_key_spend_usd",
        "bedrock_proxy_key_spend_limit_usd",
    ):
        assert needed in read, needed
