"""The pure arithmetic behind budgets: a call's maximum cost (what it reserves) and the usage charged for a
call cut short (what it pays), by tables."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_proxy.chat.answer import AnswerToolCall, ChatAnswer
from bedrock_proxy.chat.estimates import answer_tokens, charged_usage
from bedrock_proxy.chat.usage import Usage
from bedrock_proxy.config.loader import load_config_text
from bedrock_proxy.server.budget import max_call_cost, output_ceiling

HAIKU_IN, HAIKU_OUT = 0.25e-6, 1.25e-6  # USD per token, eu-west-1


def deployments(params: str = "") -> Any:
    text = f"""model_list:
  - model_name: haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
{params}  - model_name: priced
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      input_cost_per_token: 0.001
      output_cost_per_token: 0.002
"""
    config = load_config_text(text, environ={})
    assert not config.errors, [str(issue) for issue in config.errors]
    return config.groups()


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "calls", "expected"),
    [
        (100, 50, 1, 100 * HAIKU_IN + 50 * HAIKU_OUT),
        (100, 50, 3, 3 * (100 * HAIKU_IN + 50 * HAIKU_OUT)),  # n calls, each its own answer
        (0, 0, 1, 0.0),  # an embedding of nothing
        (100, None, 1, 100 * HAIKU_IN + 4096 * HAIKU_OUT),  # no max_tokens: the model's largest answer
    ],
)
def test_a_calls_maximum_cost(prompt: int, max_tokens: int | None, calls: int, expected: float) -> None:
    assert max_call_cost(deployments()["haiku"], prompt, max_tokens, calls) == pytest.approx(expected)


def test_the_dearest_deployment_prices_the_reservation() -> None:
    groups = deployments()
    both = groups["haiku"] + groups["priced"]
    assert max_call_cost(both, 10, 10) == pytest.approx(10 * 0.001 + 10 * 0.002)


def test_a_deployments_default_max_tokens_bounds_the_answer() -> None:
    (deployment,) = deployments("      max_tokens: 300\n")["haiku"]
    assert output_ceiling(deployment, None) == 300
    assert output_ceiling(deployment, 20) == 20  # the request's own wins


@pytest.mark.parametrize(
    ("answer", "tokens"),
    [
        (ChatAnswer("a" * 400), 100),
        (
            ChatAnswer(None, [AnswerToolCall("t1", "get_weather", '{"city": "Paris"}')]),
            7,
        ),  # 11 + 17 characters
        (ChatAnswer("abc", reasoning="d" * 397), 100),
        (ChatAnswer(""), 0),
    ],
)
def test_the_tokens_of_what_was_produced(answer: ChatAnswer, tokens: int) -> None:
    assert answer_tokens(answer) == tokens


def test_a_cut_short_call_pays_bedrocks_usage_where_it_arrived_and_an_estimate_elsewhere() -> None:
    real = Usage(prompt_tokens=12, completion_tokens=30)
    usage, estimated = charged_usage(10, [(real, ChatAnswer("x" * 999))])
    assert (usage, estimated) == (real, False)
    usage, estimated = charged_usage(10, [(None, ChatAnswer("x" * 400)), (real, ChatAnswer(""))])
    assert (usage, estimated) == (Usage(prompt_tokens=22, completion_tokens=130), True)
