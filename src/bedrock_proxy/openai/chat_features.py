"""The OpenAI-route fields that ask for a Bedrock feature, checked: reasoning (`reasoning_effort`, LiteLLM's
`thinking`), `thinking_blocks` sent back on assistant messages, `service_tier` and LiteLLM's
`performanceConfig`. Each mistake is a 400 naming the field.

What a given model takes is decided later, per deployment, in `bedrock.translate`.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.chat.fields import reasoning_block
from bedrock_proxy.chat.request import Reasoning, ReasoningMode, ReasoningPart
from bedrock_proxy.errors import invalid_request

# OpenAI's reasoning_effort values (and LiteLLM's extra "xhigh" / "max"); "none" asks for no reasoning
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# OpenAI's service_tier values Bedrock has a tier for ("auto" lets Bedrock decide: nothing is sent)
_SERVICE_TIERS = {"auto": None, "default": "default", "flex": "flex", "priority": "priority"}
_LATENCIES = ("standard", "optimized")


def parse_reasoning_effort(
    value: object, param: str = "reasoning_effort", *, refuse: bool = True
) -> Reasoning | None:
    """`reasoning_effort` as a Reasoning: think, with a budget or effort the model's kind decides.
    `refuse` False: a model without reasoning drops it rather than answering 400."""
    if value is None:
        return None
    if value not in REASONING_EFFORTS:
        raise invalid_request(
            f"'{param}' must be one of {', '.join(REASONING_EFFORTS)}, got {value!r}.", param
        )
    if value == "none":
        return None
    return Reasoning(ReasoningMode.ENABLED, effort=str(value), param=param, refuse=refuse)


def parse_thinking(value: object, effort: Reasoning | None) -> Reasoning | None:
    """LiteLLM's `thinking` ({"type": "enabled", "budget_tokens": N} | adaptive | disabled), with the
    effort of `reasoning_effort` when both are sent; None: `thinking` was not sent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_request(
            '\'thinking\' must be an object such as {"type": "enabled", "budget_tokens": 2048}.', "thinking"
        )
    kind = value.get("type")
    level = effort.effort if effort is not None else None
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
            raise invalid_request(
                f"'thinking.budget_tokens' must be an integer of at least 1024, got {budget!r}.",
                "thinking.budget_tokens",
            )
        return Reasoning(ReasoningMode.ENABLED, budget, level, param="thinking")
    if kind == "adaptive":
        return Reasoning(ReasoningMode.ADAPTIVE, effort=level, param="thinking")
    if kind == "disabled":
        return Reasoning(ReasoningMode.DISABLED)
    raise invalid_request(
        f"'thinking.type' must be enabled, adaptive or disabled, got {kind!r}.", "thinking.type"
    )


def parse_thinking_blocks(value: object, param: str) -> list[ReasoningPart]:
    """An assistant message's `thinking_blocks` (as LiteLLM returns them), to send back to Bedrock
    unchanged: Claude checks each block's signature."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_request(f"'{param}' must be an array of thinking blocks.", param)
    parts: list[ReasoningPart] = []
    for index, block in enumerate(value):
        pb = f"{param}[{index}]"
        part = reasoning_block(block, pb) if isinstance(block, dict) else None
        if part is None:
            kind = block.get("type") if isinstance(block, dict) else None
            raise invalid_request(
                f"'{pb}' must be a block of type 'thinking' or 'redacted_thinking', got {kind!r}.",
                f"{pb}.type",
            )
        parts.append(part)
    return parts


def parse_service_tier(body: dict[str, Any]) -> str | None:
    """OpenAI's `service_tier` as Bedrock's serviceTier; "auto" (or none) leaves it to the deployment."""
    value = body.get("service_tier")
    if value is None:
        return None
    if not isinstance(value, str) or value not in _SERVICE_TIERS:
        raise invalid_request(
            f"'service_tier' must be one of auto, default, flex, priority (Bedrock's tiers), got {value!r}.",
            "service_tier",
        )
    return _SERVICE_TIERS[value]


def parse_latency(body: dict[str, Any]) -> str | None:
    """LiteLLM's `performanceConfig` ({"latency": "optimized"}) as Bedrock's performanceConfig.latency."""
    value = body.get("performanceConfig")
    if value is None:
        return None
    latency = value.get("latency") if isinstance(value, dict) else None
    if latency not in _LATENCIES:
        raise invalid_request(
            f"'performanceConfig.latency' must be standard or optimized, got {latency!r}.",
            "performanceConfig.latency",
        )
    return str(latency)


def refuse_request_guardrail(body: dict[str, Any]) -> None:
    """A guardrail is the operator's to set, per deployment: a client must not pick or remove it."""
    if body.get("guardrailConfig") is not None:
        raise invalid_request(
            "'guardrailConfig' cannot be sent per request: guardrails are set per deployment in config.yaml"
            " (litellm_params.guardrailConfig).",
            "guardrailConfig",
        )
