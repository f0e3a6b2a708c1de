"""The 2026 line-up end to end, with the real openai and anthropic SDKs against a gateway process and the
emulator: a one-hour cache write on Claude Sonnet 4.5 costs the 1-hour write price, then the read price;
adaptive thinking with an effort on Opus 4.6 returns reasoning and reasoning tokens; LiteLLM's `thinking`
and `reasoning_effort` as deployment defaults; the service tier on every streamed chunk and in Anthropic's
usage; a traced guardrail's assessment returned and recorded; batch prices in /model/info only where
Bedrock runs batch jobs; Mistral's EU models served and priced; Nova's cache reads priced."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from openai import OpenAI

from tests.alerting.receiver import Receiver
from tests.gateway.conftest import MASTER_KEY, call
from tests.support.processes import gateway_process

M = 1e-6
GUARDRAIL_MARKER = "[[emu:fault=guardrail]]"
SONNET_45 = "bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
CONFIG = f"""
model_list:
  - model_name: claude-sonnet-4-5
    litellm_params:
      model: {SONNET_45}
      aws_region_name: eu-west-1
  - model_name: claude-opus-4-6
    litellm_params:
      model: bedrock/eu.anthropic.claude-opus-4-6-v1
      aws_region_name: eu-west-1
  - model_name: sonnet-thinks-by-default
    litellm_params:
      model: {SONNET_45}
      aws_region_name: eu-west-1
      thinking: {{type: enabled, budget_tokens: 2048}}
  - model_name: opus-works-hard-by-default
    litellm_params:
      model: bedrock/global.anthropic.claude-opus-4-7
      aws_region_name: eu-west-1
      reasoning_effort: high
  - model_name: flex-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      service_tier: flex
  - model_name: priority-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      service_tier: priority
  - model_name: traced-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      guardrailConfig:
        guardrailIdentifier: gr-traced
        guardrailVersion: "1"
        trace: enabled
  - model_name: nova-pro
    litellm_params:
      model: bedrock/eu.amazon.nova-pro-v1:0
      aws_region_name: eu-west-1
  - model_name: pixtral-large
    litellm_params:
      model: bedrock/eu.mistral.pixtral-large-2502-v1:0
      aws_region_name: eu-west-1
  - model_name: ministral-3-8b
    litellm_params:
      model: bedrock/mistral.ministral-3-8b-instruct
      aws_region_name: eu-west-1
litellm_settings:
  success_callback: ["webhook"]
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="module")
def records() -> Iterator[Receiver]:
    """The webhook sink's receiver: one JSON CallRecord per request, POSTed to /records."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def gateway_2026(
    emulator_url: str, tmp_path_factory: pytest.TempPathFactory, records: Receiver
) -> Iterator[str]:
    env = {"WEBHOOK_URL": f"{records.url}/records"}
    tmp = tmp_path_factory.mktemp("bedrock-2026")
    with gateway_process(CONFIG, tmp, emulator_url=emulator_url, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def client(gateway_2026: str) -> OpenAI:
    return OpenAI(api_key=MASTER_KEY, base_url=f"{gateway_2026}/v1", max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def claude(gateway_2026: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=MASTER_KEY, base_url=gateway_2026, max_retries=0, timeout=60)


def _long_system(tag: str) -> str:
    """A system prompt well over Claude's 1,024-token cache minimum, unique to the test run."""
    return f"[{tag}] You audit invoices line by line and cite each line you question. " * 160


def _cost(raw: Any) -> float:
    return float(raw.headers["x-litellm-response-cost"])


def _spend_of(gateway: str, request_id: str) -> float:
    deadline = time.monotonic() + 30  # the ledger writes off the request path
    while time.monotonic() < deadline:
        status, _, logged = call(f"{gateway}/spend/logs")
        assert status == 200
        rows = [row for row in logged if row["request_id"] == request_id]
        if rows:
            return float(rows[0]["spend"])
        time.sleep(0.2)
    raise AssertionError(f"{request_id} never reached /spend/logs")


# ----------------------------------------------------------------------------------------------------------
# prompt caching with a one-hour TTL: 2x input to write (Sonnet 4.5 through eu.: 3.30/M input), 0.1x to read


def test_a_one_hour_cache_write_costs_the_1h_price_then_reads_cost_the_read_price(
    client: OpenAI, gateway_2026: str
) -> None:
    system = {
        "role": "system",
        "content": [
            {
                "type": "text",
                "text": _long_system(uuid.uuid4().hex),
                "cache_control": {"type": "ephemeral", "ttl": "1h"},
            }
        ],
    }
    calls = []
    for question in ("Is line 4 plausible?", "Is line 9 plausible?"):
        raw = client.chat.completions.with_raw_response.create(
            model="claude-sonnet-4-5", messages=[system, {"role": "user", "content": question}], max_tokens=40
        )
        calls.append((raw, raw.parse().usage))
    (first_raw, first), (second_raw, second) = calls
    assert first is not None and second is not None
    written = first.model_extra["cache_creation_input_tokens"]
    assert written > 1000
    by_ttl = first.prompt_tokens_details.model_extra["cache_creation_token_details"]
    assert by_ttl == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": written}
    plain = first.prompt_tokens - written
    expected_first = (plain * 3.3 + written * 6.6 + first.completion_tokens * 16.5) * M
    assert _cost(first_raw) == pytest.approx(expected_first, rel=1e-6)
    read = second.prompt_tokens_details.cached_tokens
    assert read == written
    expected_second = (
        (second.prompt_tokens - read) * 3.3 + read * 0.33 + second.completion_tokens * 16.5
    ) * M
    assert _cost(second_raw) == pytest.approx(expected_second, rel=1e-6)
    # had the write been priced as a 5-minute one (1.25x) the first call would cost less than it does
    assert expected_first > (plain * 3.3 + written * 4.125 + first.completion_tokens * 16.5) * M
    # the ledger (budgets, /spend/logs) keeps the same cost as the header
    assert _spend_of(gateway_2026, first_raw.headers["x-request-id"]) == pytest.approx(_cost(first_raw))


def test_nova_pro_caches_a_repeated_system_prompt_and_the_read_costs_a_quarter_of_input(
    client: OpenAI, gateway_2026: str
) -> None:
    """Nova takes explicit cache points too (5 minutes): through eu. the input is 1.05/M, a cache read 75%
    less (0.2625/M), and a write costs what input costs."""
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": _long_system(uuid.uuid4().hex), "cache_control": {"type": "ephemeral"}}
        ],
    }
    calls = []
    for question in ("Is line 4 plausible?", "Is line 9 plausible?"):
        raw = client.chat.completions.with_raw_response.create(
            model="nova-pro", messages=[system, {"role": "user", "content": question}], max_tokens=40
        )
        calls.append((raw, raw.parse().usage))
    (first_raw, first), (second_raw, second) = calls
    assert first is not None and second is not None
    written = first.model_extra["cache_creation_input_tokens"]
    assert written > 1000 and first.prompt_tokens_details.cached_tokens == 0
    expected_first = (first.prompt_tokens * 1.05 + first.completion_tokens * 4.2) * M
    assert _cost(first_raw) == pytest.approx(expected_first, rel=1e-6)
    read = second.prompt_tokens_details.cached_tokens
    assert read == written
    expected_second = (
        (second.prompt_tokens - read) * 1.05 + read * 0.2625 + second.completion_tokens * 4.2
    ) * M
    assert _cost(second_raw) == pytest.approx(expected_second, rel=1e-6)
    assert _cost(second_raw) < _cost(first_raw)
    assert _spend_of(gateway_2026, second_raw.headers["x-request-id"]) == pytest.approx(_cost(second_raw))


def test_the_anthropic_route_reports_the_one_hour_write_and_costs_it(
    claude: anthropic.Anthropic, gateway_2026: str
) -> None:
    system = [
        {
            "type": "text",
            "text": _long_system(uuid.uuid4().hex),
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    raw = claude.messages.with_raw_response.create(
        model="claude-sonnet-4-5",
        max_tokens=40,
        system=system,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "Is line 2 plausible?"}],
    )
    # read from the JSON: `cache_creation` is a typed field only in newer SDKs than the tested floor
    usage = raw.http_response.json()["usage"]
    written = usage["cache_creation_input_tokens"]
    assert written > 1000
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": written}
    expected = (usage["input_tokens"] * 3.3 + written * 6.6 + usage["output_tokens"] * 16.5) * M
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(expected, rel=1e-6)
    again = claude.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=40,
        system=system,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "Is line 3 plausible?"}],
    )
    assert again.usage.cache_read_input_tokens == written


# ----------------------------------------------------------------------------------------------------------
# reasoning: adaptive thinking with an effort, and deployment defaults


def test_adaptive_thinking_with_an_effort_returns_reasoning_and_reasoning_tokens(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="claude-opus-4-6",
        messages=[{"role": "user", "content": "Which is larger, 9.9 or 9.11?"}],
        reasoning_effort="high",
        max_tokens=600,
    )
    answer = raw.parse()
    message = answer.choices[0].message
    assert message.model_extra["reasoning_content"]
    (block,) = message.model_extra["thinking_blocks"]
    assert block["signature"]
    assert answer.usage is not None and answer.usage.completion_tokens_details.reasoning_tokens > 0
    assert "x-bedrock-proxy-dropped-params" not in raw.headers  # adaptive with effort: nothing dropped


def test_adaptive_thinking_with_an_effort_on_the_anthropic_route(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-opus-4-6",
        max_tokens=600,
        thinking={"type": "adaptive"},  # type: ignore[typeddict-item]
        extra_body={"output_config": {"effort": "medium"}},
        messages=[{"role": "user", "content": "Which is larger, 9.9 or 9.11?"}],
    )
    kinds = [block.type for block in message.content]
    assert kinds[0] == "thinking" and "text" in kinds
    assert message.content[0].signature  # type: ignore[union-attr]


def test_a_deployments_default_thinking_budget_applies_unless_the_request_says_otherwise(
    client: OpenAI,
) -> None:
    question = [{"role": "user", "content": "How many primes are below twenty?"}]
    by_default = client.chat.completions.create(
        model="sonnet-thinks-by-default", messages=question, max_tokens=500
    )
    assert by_default.choices[0].message.model_extra.get("reasoning_content")
    assert by_default.usage is not None and by_default.usage.completion_tokens_details.reasoning_tokens > 0
    # the request's own value wins: thinking disabled, no reasoning at all
    declined = client.chat.completions.create(
        model="sonnet-thinks-by-default",
        messages=question,
        max_tokens=500,
        extra_body={"thinking": {"type": "disabled"}},
    )
    assert not declined.choices[0].message.model_extra.get("reasoning_content")
    assert declined.usage is not None and declined.usage.completion_tokens_details.reasoning_tokens == 0


def test_a_deployments_default_reasoning_effort_thinks_adaptively_on_opus_4_7(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model="opus-works-hard-by-default",
        messages=[{"role": "user", "content": "Plan a three-day trip to Galway."}],
        max_tokens=600,
    )
    assert answer.choices[0].message.model_extra.get("reasoning_content")
    assert answer.usage is not None and answer.usage.completion_tokens_details.reasoning_tokens > 0


# ----------------------------------------------------------------------------------------------------------
# service tiers on streams


def test_every_streamed_chunk_carries_the_service_tier(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="flex-haiku",
        messages=[{"role": "user", "content": "Name three rivers."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len(chunks) > 2 and {chunk.service_tier for chunk in chunks} == {"flex"}
    asked = client.chat.completions.create(
        model="flex-haiku", messages=[{"role": "user", "content": "Hi"}], service_tier="priority", stream=True
    )
    assert {chunk.service_tier for chunk in asked} == {"priority"}  # the request's own tier wins
    plain = client.chat.completions.create(
        model="nova-pro", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    assert {chunk.service_tier for chunk in plain} == {None}


def test_the_anthropic_route_reports_the_service_tier_in_usage(claude: anthropic.Anthropic) -> None:
    question: list[Any] = [{"role": "user", "content": "Hi"}]
    priority = claude.messages.create(model="priority-haiku", max_tokens=30, messages=question)
    assert getattr(priority.usage, "service_tier", None) == "priority"  # a field, or an extra in old SDKs
    events = list(
        claude.messages.create(model="priority-haiku", max_tokens=30, messages=question, stream=True)
    )
    (delta,) = [event for event in events if event.type == "message_delta"]
    # Bedrock reports the tier with the usage, last: it rides on the message_delta's usage
    reported = getattr(delta.usage, "service_tier", None)
    assert reported == "priority"
    plain = claude.messages.create(model="nova-pro", max_tokens=30, messages=question)
    assert getattr(plain.usage, "service_tier", None) is None  # no tier asked, none reported
    # flex has no name in Anthropic's vocabulary (standard | priority | batch): left out, not misnamed
    flex = claude.messages.create(model="flex-haiku", max_tokens=30, messages=question)
    assert getattr(flex.usage, "service_tier", None) is None


# ----------------------------------------------------------------------------------------------------------
# guardrail trace


def test_a_traced_guardrail_returns_its_assessment_and_records_it(client: OpenAI, records: Receiver) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="traced-haiku", messages=[{"role": "user", "content": f"Tell me a secret {GUARDRAIL_MARKER}"}]
    )
    blocked = raw.parse()
    assert blocked.choices[0].finish_reason == "content_filter"
    trace = blocked.model_extra["guardrail_trace"]
    assert trace["actionReason"] == "Guardrail blocked."
    (action,) = {f["action"] for f in trace["inputAssessment"]["gr-traced"]["contentPolicy"]["filters"]}
    assert action == "BLOCKED"
    # an answer the guardrail let through carries its assessment of the output too, also when streamed
    stream = client.chat.completions.create(
        model="traced-haiku", messages=[{"role": "user", "content": "Name a river."}], stream=True
    )
    traces = [
        chunk.model_extra["guardrail_trace"] for chunk in stream if "guardrail_trace" in chunk.model_extra
    ]
    assert len(traces) == 1 and "gr-traced" in traces[0]["outputAssessments"]
    # the record's metadata keeps it: every sink (here the webhook) sees what the guardrail found
    request_id = raw.headers["x-request-id"]
    [record] = records.wait_for(
        "/records", lambda bodies: [b for b in bodies if b.get("request_id") == request_id]
    )
    assert record["metadata"]["guardrail_trace"] == trace


def test_the_anthropic_route_returns_a_traced_guardrails_assessment(claude: anthropic.Anthropic) -> None:
    blocked = claude.messages.create(
        model="traced-haiku",
        max_tokens=50,
        messages=[{"role": "user", "content": f"Tell me a secret {GUARDRAIL_MARKER}"}],
    )
    assert blocked.stop_reason == "refusal"  # the guardrail intervened
    trace = (blocked.model_extra or {})["guardrail_trace"]
    assert trace["actionReason"] == "Guardrail blocked."
    events = list(
        claude.messages.create(
            model="traced-haiku",
            max_tokens=50,
            messages=[{"role": "user", "content": "Name a river."}],
            stream=True,
        )
    )
    (delta,) = [event for event in events if event.type == "message_delta"]
    assert "gr-traced" in (delta.model_extra or {})["guardrail_trace"]["outputAssessments"]


# ----------------------------------------------------------------------------------------------------------
# the price table through /model/info, and Mistral's EU models


def test_model_info_shows_batch_prices_only_where_bedrock_runs_batch_jobs(gateway_2026: str) -> None:
    status, _, body = call(f"{gateway_2026}/model/info")
    assert status == 200
    info = {entry["model_name"]: entry["model_info"] for entry in body["data"]}
    nova = info["nova-pro"]
    assert nova["input_cost_per_token"] == pytest.approx(1.05 * M)
    assert nova["input_cost_per_token_batches"] == pytest.approx(0.525 * M)
    assert nova["output_cost_per_token_batches"] == pytest.approx(2.1 * M)
    assert nova["cache_read_input_token_cost"] == pytest.approx(1.05 * 0.25 * M)
    sonnet = info["claude-sonnet-4-5"]
    assert sonnet["input_cost_per_token_batches"] == pytest.approx(1.65 * M)
    assert sonnet["cache_creation_input_token_cost_above_1hr"] == pytest.approx(6.6 * M)
    for name in ("pixtral-large", "ministral-3-8b"):
        assert info[name]["input_cost_per_token"] > 0
        assert "input_cost_per_token_batches" not in info[name]
        assert "output_cost_per_token_batches" not in info[name]


def test_ministral_3_8b_is_served_in_eu_west_1_and_priced(client: OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="ministral-3-8b", messages=[{"role": "user", "content": "Bonjour !"}], max_tokens=30
    )
    usage = raw.parse().usage
    assert usage is not None
    expected = (usage.prompt_tokens + usage.completion_tokens) * 0.15 * M
    assert _cost(raw) == pytest.approx(expected, rel=1e-6)
