"""A request's reasoning (`chat.request.Reasoning`) as one Bedrock model takes it: pure, tested by tables.

Per the model's thinking kinds (`capabilities.thinking`):
- a budget model (Claude 3.7, 4.0-4.5) gets `thinking: {"type": "enabled", "budget_tokens": N}`; an effort
  with no budget (OpenAI's `reasoning_effort`) becomes the budget of EFFORT_BUDGETS;
- an adaptive model (Claude 4.6+) gets `thinking: {"type": "adaptive"}`, the effort as
  `output_config.effort`; a budget request becomes adaptive where budgets are refused (4.7+); an adaptive
  request on a budget-only model thinks with half of max_tokens (at most 16,000);
- a model without reasoning: a 400 naming the client's field (reasoning_effort, thinking), or under
  drop_params a drop named in x-bedrock-proxy-dropped-params. The Responses API's reasoning.effort (Codex
  sends one to every model) and Anthropic's own API are dropped, named, without a 400.
- Nova 2 takes `reasoningConfig: {"type": "enabled", "maxReasoningEffort": low | medium | high}` and
  gpt-oss its own `reasoning_effort` (low | medium | high): the effort goes there (minimal -> low,
  xhigh / max -> high; a budget or adaptive request without an effort -> medium).
An unknown model id (an application inference profile ARN) is sent a budget: Bedrock has the last word.
Claude's thinking takes no temperature but 1, no top_k, a top_p of at least 0.95 and no forced tool choice:
each is a 400 naming it or, under drop_params, dropped (a forced tool_choice relaxed to auto), never
Bedrock's own 400 after a round trip.
Claude counts the thinking budget inside max_tokens: a max_tokens at or under the budget is raised by the
budget (up to the model's output limit), so the answer keeps the room the client asked for.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.bedrock.capabilities import ModelCapabilities
from bedrock_proxy.chat.request import Reasoning, ReasoningMode
from bedrock_proxy.errors import invalid_request

MIN_BUDGET = 1024  # Claude's smallest budget_tokens
_MAX_ADAPTED_BUDGET = 16_000  # an adaptive request on a budget-only model thinks at most this much
# reasoning_effort -> budget_tokens on a budget model: LiteLLM's figures (low 1024, medium 2048, high 4096,
# xhigh 8192, max 16384), so a config moved from LiteLLM thinks as much; "minimal" is raised to Claude's floor
EFFORT_BUDGETS = {
    "minimal": MIN_BUDGET,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
    "max": 16_384,
}
_UNKNOWN_KINDS = frozenset({"enabled"})
# OpenAI's effort words -> Anthropic's output_config.effort (low | medium | high | xhigh | max)
_ANTHROPIC_EFFORT = {"minimal": "low"}


def reasoning_fields(
    reasoning: Reasoning,
    caps: ModelCapabilities,
    model_id: str,
    drop_params: bool,
    inference: dict[str, Any],
    additional: dict[str, Any],
    params: dict[str, Any],
    dropped: list[str],
) -> None:
    """Set `thinking` and `output_config` in `additional` (and maxTokens in `inference` when the budget
    needs room) as this model takes them; what it cannot take is a 400 or, named, dropped."""
    if reasoning.mode is not ReasoningMode.DISABLED and _effort_field(caps, reasoning, additional, params):
        return
    thinking = _thinking(reasoning, caps, inference.get("maxTokens"))
    if thinking is None and reasoning.mode is not ReasoningMode.DISABLED:
        if reasoning.param is not None and reasoning.refuse and not drop_params:
            raise invalid_request(
                f"'{reasoning.param}' is not supported by model {model_id}: it has no extended thinking."
                " Remove it, use a reasoning model (Claude 3.7 / 4.x), or set drop_params: true.",
                reasoning.param,
            )
        dropped.append(reasoning.param or "thinking")
        if reasoning.param is None and reasoning.effort:
            dropped.append("effort")
        return
    if thinking is not None:
        budget = thinking.get("budget_tokens")
        if budget is not None:
            _make_room(budget, caps, inference, params)
        additional["thinking"] = thinking
        params["thinking"] = thinking
    effort = reasoning.effort
    if not effort:
        return
    if caps.effort:
        sent = _ANTHROPIC_EFFORT.get(effort, effort)
        additional["output_config"] = {"effort": sent}
        params["effort"] = sent
    elif not _spent_as_budget(reasoning, thinking):
        dropped.append("effort")


# the capability fields (ModelCapabilities.reasoning_field) where reasoning is an effort level of its own
_EFFORT_FIELDS = frozenset({"reasoningConfig", "reasoning_effort"})
_THREE_LEVELS = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}


def _effort_field(
    caps: ModelCapabilities, reasoning: Reasoning, additional: dict[str, Any], params: dict[str, Any]
) -> bool:
    """Nova 2's reasoningConfig or gpt-oss's reasoning_effort; False for a model without such a field."""
    field = caps.reasoning_field
    if field not in _EFFORT_FIELDS:
        return False
    level = _THREE_LEVELS.get(reasoning.effort or "", "medium")
    if field == "reasoningConfig":
        additional[field] = {"type": "enabled", "maxReasoningEffort": level}
    else:
        additional[field] = level
    params["effort"] = level
    return True


def _spent_as_budget(reasoning: Reasoning, thinking: dict[str, Any] | None) -> bool:
    """The effort chose the thinking budget (EFFORT_BUDGETS): it was applied, not dropped."""
    return (
        thinking is not None
        and "budget_tokens" in thinking
        and reasoning.mode is ReasoningMode.ENABLED
        and reasoning.budget_tokens is None
        and reasoning.effort in EFFORT_BUDGETS
    )


def _thinking(reasoning: Reasoning, caps: ModelCapabilities, max_tokens: int | None) -> dict[str, Any] | None:
    # an unknown id (an application inference profile ARN, a model newer than our table) gets a budget, the
    # most widely taken form: Bedrock has the last word
    kinds = caps.thinking or (_UNKNOWN_KINDS if caps.family == "unknown" else caps.thinking)
    effort_budget = EFFORT_BUDGETS.get(reasoning.effort or "")
    if reasoning.mode is ReasoningMode.ENABLED:
        if reasoning.budget_tokens is None and effort_budget is not None and "adaptive" in kinds:
            return {"type": "adaptive"}  # an effort, no budget: the model's own way of spending it
        if "enabled" in kinds:
            return {
                "type": "enabled",
                "budget_tokens": reasoning.budget_tokens or effort_budget or MIN_BUDGET,
            }
        if "adaptive" in kinds:
            return {"type": "adaptive"}  # this model refuses budgets: it decides how much to think
        return None
    if reasoning.mode is ReasoningMode.ADAPTIVE:
        if "adaptive" in kinds:
            return {"type": "adaptive"}
        if "enabled" in kinds and max_tokens and max_tokens > 2 * MIN_BUDGET:
            return {"type": "enabled", "budget_tokens": min(_MAX_ADAPTED_BUDGET, max_tokens // 2)}
    return None


def _make_room(
    budget: int, caps: ModelCapabilities, inference: dict[str, Any], params: dict[str, Any]
) -> None:
    """max_tokens counts the thinking: one at or under the budget is raised by it (to the model's limit)."""
    max_tokens = inference.get("maxTokens")
    if max_tokens is None or max_tokens > budget:
        return
    raised = budget + max_tokens
    if caps.max_output_tokens:
        raised = min(raised, caps.max_output_tokens)
    if raised <= budget:
        raise invalid_request(
            f"'max_tokens' {max_tokens} leaves no room for a thinking budget of {budget} tokens on this"
            " model: lower the reasoning effort or the budget.",
            "max_tokens",
        )
    inference["maxTokens"] = raised
    params["max_tokens"] = raised


_MIN_TOP_P = 0.95  # the lowest top_p Claude takes with thinking on


def check_thinking_compatible(
    additional: dict[str, Any],
    inference: dict[str, Any],
    tool_config: dict[str, Any] | None,
    json_tool: str | None,
    drop_params: bool,
    params: dict[str, Any],
    dropped: list[str],
) -> None:
    """Claude with thinking on refuses a temperature other than 1, top_k, a top_p under 0.95 and a forced
    tool choice: a 400 naming the first, or under drop_params each removed (the tool choice relaxed)."""
    if additional["thinking"].get("type") == "disabled":
        return
    temperature, top_p = inference.get("temperature"), inference.get("topP")
    choice = (tool_config or {}).get("toolChoice") or {}
    forced = "any" in choice or "tool" in choice
    conflicts = [
        ("temperature", temperature is not None and temperature != 1, "only 1 (or none)"),
        ("top_k", "top_k" in additional, "none"),
        ("top_p", top_p is not None and top_p < _MIN_TOP_P, f"{_MIN_TOP_P} to 1 (or none)"),
        (
            "response_format" if json_tool else "tool_choice",
            forced,
            "no forced tool (a json_schema answer is one: ask for JSON in the prompt instead)"
            if json_tool
            else "auto or none (thinking cannot be combined with a forced tool)",
        ),
    ]
    for name, conflict, allowed in conflicts:
        if not conflict:
            continue
        if not drop_params:
            raise invalid_request(
                f"'{name}' cannot be combined with reasoning on this model: it takes {allowed}. Change it,"
                " drop the reasoning, or set drop_params: true.",
                name,
            )
        dropped.append(name)
        params.pop(name, None)
        if name == "temperature":
            del inference["temperature"]
        elif name == "top_p":
            del inference["topP"]
        elif name == "top_k":
            del additional["top_k"]
        else:  # the forced tool choice, relaxed: the model may call a tool (or the json tool) or answer
            assert tool_config is not None
            tool_config["toolChoice"] = {"auto": {}}
