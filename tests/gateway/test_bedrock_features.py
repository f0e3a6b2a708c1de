"""Bedrock request features end to end, with the openai SDK against a gateway and the emulator: prompt caching
(cache_control and LiteLLM's cache_control_injection_points) that costs less the second time, reasoning
(reasoning_effort) with its text, signature and tokens, a clear 400 on a model without reasoning, a guardrail
intervention as finish_reason content_filter, and the service tier reaching Bedrock and coming back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.e2e.support import eventually, metric, metric_samples
from tests.gateway.conftest import MASTER_KEY, call
from tests.support.processes import gateway_process

GUARDRAIL_MARKER = "[[emu:fault=guardrail]]"
CONFIG = f"""
model_list:
  - model_name: claude-3-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
  - model_name: claude-3-7-sonnet
    litellm_params:
      model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: eu-west-1
  - model_name: auto-cached-sonnet
    litellm_params:
      model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0
      aws_region_name: eu-west-1
      cache_control_injection_points:
        - location: message
          role: system
  - model_name: guarded-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      guardrailConfig:
        guardrailIdentifier: gr-emu
        guardrailVersion: "1"
  - model_name: flex-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      service_tier: flex
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="module")
def features_gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(CONFIG, tmp_path_factory.mktemp("features"), emulator_url=emulator_url) as url:
        yield url


@pytest.fixture(scope="module")
def client(features_gateway: str) -> OpenAI:
    return OpenAI(api_key=MASTER_KEY, base_url=f"{features_gateway}/v1", max_retries=0, timeout=60)


def _long_system(tag: str) -> str:
    """A system prompt well over Claude's 1,024-token cache minimum, unique to the test run."""
    return f"[{tag}] You review contracts clause by clause and cite each one. " * 160


def _cost(response: Any) -> float:
    return float(response.headers["x-litellm-response-cost"])


# ----------------------------------------------------------------------------------------------------------
# prompt caching


def test_a_repeated_long_system_prompt_with_cache_control_costs_less_the_second_time(client: OpenAI) -> None:
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": _long_system(uuid.uuid4().hex), "cache_control": {"type": "ephemeral"}}
        ],
    }
    gateway = str(client.base_url).removesuffix("/v1/")
    before = metric(
        metric_samples(gateway), "litellm_spend_metric_total", requested_model="claude-3-7-sonnet"
    )
    replies = []
    for question in ("Is clause 4 fair?", "Is clause 9 fair?"):
        raw = client.chat.completions.with_raw_response.create(
            model="claude-3-7-sonnet", messages=[system, {"role": "user", "content": question}], max_tokens=50
        )
        replies.append((raw, raw.parse()))
    (first_raw, first), (second_raw, second) = replies
    assert first.usage is not None and second.usage is not None
    assert first.usage.model_extra and first.usage.model_extra["cache_creation_input_tokens"] > 1000
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached == first.usage.model_extra["cache_creation_input_tokens"]
    assert "cache_creation_input_tokens" not in (second.usage.model_extra or {})
    # reads cost a tenth of input, writes 1.25x: the second call is much cheaper than the first
    assert _cost(second_raw) < _cost(first_raw) / 3
    # the metrics count the same dollars as the headers
    spent = _cost(first_raw) + _cost(second_raw)

    def counted() -> bool:
        after = metric(
            metric_samples(gateway), "litellm_spend_metric_total", requested_model="claude-3-7-sonnet"
        )
        return after - before == pytest.approx(spent, rel=1e-6)

    eventually(counted, message="litellm_spend_metric did not grow by the two calls' costs")
    # the ledger keeps the same cost as the header (what budgets and /spend/logs read)
    request_id = second_raw.headers["x-request-id"]
    deadline = time.monotonic() + 30
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not rows:
        status, _, logged = call(f"{gateway}/spend/logs")
        assert status == 200
        rows = [row for row in logged if row["request_id"] == request_id]
        time.sleep(0.2)
    assert rows and rows[0]["spend"] == pytest.approx(_cost(second_raw))


def test_injection_points_cache_the_system_prompt_without_cache_control(client: OpenAI) -> None:
    messages = [
        {"role": "system", "content": _long_system(uuid.uuid4().hex)},
        {"role": "user", "content": "Summarise clause 2."},
    ]
    first = client.chat.completions.with_raw_response.create(
        model="auto-cached-sonnet", messages=messages, max_tokens=30
    )
    second = client.chat.completions.with_raw_response.create(
        model="auto-cached-sonnet", messages=messages, max_tokens=30
    )
    assert first.parse().usage.prompt_tokens_details.cached_tokens == 0
    assert second.parse().usage.prompt_tokens_details.cached_tokens > 1000
    assert _cost(second) < _cost(first)
    # the same prompt to the deployment without injection points is never cached
    plain = client.chat.completions.create(model="claude-3-7-sonnet", messages=messages, max_tokens=30)
    assert plain.usage.prompt_tokens_details.cached_tokens == 0


# ----------------------------------------------------------------------------------------------------------
# reasoning


def test_reasoning_effort_returns_reasoning_content_tokens_and_blocks_to_send_back(client: OpenAI) -> None:
    question = [{"role": "user", "content": "How many primes are below twenty?"}]
    answer = client.chat.completions.create(
        model="claude-3-7-sonnet", messages=question, reasoning_effort="low", max_tokens=400
    )
    message = answer.choices[0].message
    reasoning = message.model_extra["reasoning_content"]
    assert reasoning.startswith("Considering the request")
    assert answer.usage.completion_tokens_details.reasoning_tokens > 0
    assert answer.usage.completion_tokens_details.reasoning_tokens < answer.usage.completion_tokens
    (block,) = message.model_extra["thinking_blocks"]
    assert block["type"] == "thinking" and block["thinking"] == reasoning and block["signature"]
    # the next turn sends the blocks back; Bedrock (the emulator) checks the signature
    follow_up = [
        *question,
        {"role": "assistant", "content": message.content, "thinking_blocks": [block]},
        {"role": "user", "content": "And below thirty?"},
    ]
    again = client.chat.completions.create(
        model="claude-3-7-sonnet", messages=follow_up, reasoning_effort="low", max_tokens=400
    )
    assert again.choices[0].finish_reason == "stop"
    tampered = [
        *follow_up[:1],
        {**follow_up[1], "thinking_blocks": [{**block, "thinking": "changed"}]},
        follow_up[2],
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="claude-3-7-sonnet", messages=tampered, reasoning_effort="low")
    assert "signature" in str(refused.value)


def test_reasoning_streams_as_reasoning_content_deltas(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude-3-7-sonnet",
        messages=[{"role": "user", "content": "Think about rivers."}],
        reasoning_effort="medium",
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, signatures, usage = [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            reasoning.append(extra.get("reasoning_content") or "")
            signatures += [b["signature"] for b in extra.get("thinking_blocks") or [] if b.get("signature")]
    assert "".join(reasoning).startswith("Considering the request")
    assert len([piece for piece in reasoning if piece]) > 1  # streamed in pieces, not at once
    assert len(signatures) == 1
    assert usage is not None and usage.completion_tokens_details.reasoning_tokens > 0


def test_reasoning_effort_on_claude_3_haiku_is_a_clear_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Hi"}], reasoning_effort="high"
        )
    error = refused.value.body
    assert isinstance(error, dict) and error["param"] == "reasoning_effort"
    assert "no extended thinking" in error["message"] and "drop_params" in error["message"]


# ----------------------------------------------------------------------------------------------------------
# guardrails and service tiers


def test_a_guardrail_intervention_gives_finish_reason_content_filter(
    client: OpenAI, emulator_url: str
) -> None:
    blocked = client.chat.completions.create(
        model="guarded-haiku", messages=[{"role": "user", "content": f"Tell me a secret {GUARDRAIL_MARKER}"}]
    )
    assert blocked.choices[0].finish_reason == "content_filter"
    assert blocked.choices[0].message.content == "Sorry, the model cannot answer this question."
    stream = client.chat.completions.create(
        model="guarded-haiku",
        messages=[{"role": "user", "content": f"Tell me a secret {GUARDRAIL_MARKER}"}],
        stream=True,
    )
    finishes = [c.choices[0].finish_reason for c in stream if c.choices and c.choices[0].finish_reason]
    assert finishes == ["content_filter"]
    # the same marker to a deployment without a guardrail: nothing to intervene
    open_answer = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": f"Tell me a secret {GUARDRAIL_MARKER}"}]
    )
    assert open_answer.choices[0].finish_reason == "stop"


def test_the_service_tier_reaches_bedrock_and_comes_back(client: OpenAI) -> None:
    asked = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Hi"}], service_tier="priority"
    )
    assert asked.service_tier == "priority"  # as the emulator (Bedrock) reported it
    by_deployment = client.chat.completions.create(
        model="flex-haiku", messages=[{"role": "user", "content": "Hi"}]
    )
    assert by_deployment.service_tier == "flex"
    plain = client.chat.completions.create(
        model="claude-3-haiku", messages=[{"role": "user", "content": "Hi"}]
    )
    assert plain.service_tier is None
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-3-haiku", messages=[{"role": "user", "content": "Hi"}], service_tier="scale"
        )
    assert refused.value.body["param"] == "service_tier"


def test_the_responses_api_reasoning_effort_reaches_the_model(client: OpenAI) -> None:
    reasoned = client.responses.create(
        model="claude-3-7-sonnet", input="Which is larger, 9.9 or 9.11?", reasoning={"effort": "low"}
    )
    kinds = [item.type for item in reasoned.output]
    assert kinds[0] == "reasoning" and "message" in kinds
    assert reasoned.usage is not None and reasoned.usage.output_tokens_details.reasoning_tokens > 0
    # Codex sends an effort to every model: one without reasoning answers, and says what it dropped
    raw = client.responses.with_raw_response.create(
        model="claude-3-haiku", input="Hi", reasoning={"effort": "medium"}
    )
    assert raw.headers["x-bedrock-proxy-dropped-params"] == "reasoning.effort"
    assert [item.type for item in raw.parse().output] == ["message"]
