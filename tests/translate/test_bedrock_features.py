"""The OpenAI route's Bedrock features, request and response, by tables: reasoning per model, thinking blocks
sent back, cache points with their TTL and LiteLLM's injection points, service tier, latency, guardrails.

Every body is checked against botocore's Converse input shape, so a misspelt or misplaced field fails here.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from bedrock_proxy.bedrock.streaming import StreamTranslator, chunks_from_converse
from bedrock_proxy.bedrock.translate import ConverseCall, from_converse, to_converse
from bedrock_proxy.config.schema import NO_FEATURES, BedrockFeatures, CacheInjection
from bedrock_proxy.openai.chat_request import parse_chat_request
from bedrock_proxy.openai.completions import ChunkRenderer, completion_from_answers
from bedrock_proxy.openai.responses_request import parse_responses_request

from .helpers import chat, expect_400, function_tool, user

_CONVERSE_INPUT = (
    botocore.session.get_session().get_service_model("bedrock-runtime").operation_model("Converse")
)
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_37 = "eu.anthropic.claude-3-7-sonnet-20250219-v1:0"
SONNET_45 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS_45 = "global.anthropic.claude-opus-4-5-20251101-v1:0"
SONNET_46 = "eu.anthropic.claude-sonnet-4-6"
OPUS_47 = "global.anthropic.claude-opus-4-7"
LLAMA = "meta.llama3-1-70b-instruct-v1:0"
PROFILE_ARN = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
LONG = "You are a careful legal analyst. " * 20


def convert(
    body: dict[str, Any],
    model_id: str = SONNET_45,
    *,
    features: BedrockFeatures = NO_FEATURES,
    drop_params: bool = False,
) -> ConverseCall:
    call = to_converse(
        parse_chat_request(body),
        model_id=model_id,
        defaults={},
        drop_params=drop_params,
        images={},
        features=features,
    )
    report = ParamValidator().validate({"modelId": model_id, **call.body}, _CONVERSE_INPUT.input_shape)
    assert not report.has_errors(), report.generate_report()
    return call


# ----------------------------------------------------------------------------------------------------------
# reasoning


@pytest.mark.parametrize(
    ("model_id", "extra", "thinking", "effort", "max_tokens"),
    [
        # budget models: reasoning_effort -> LiteLLM's budgets (docs/features.md has the table)
        (SONNET_37, {"reasoning_effort": "low"}, {"type": "enabled", "budget_tokens": 1024}, None, None),
        (SONNET_45, {"reasoning_effort": "medium"}, {"type": "enabled", "budget_tokens": 2048}, None, None),
        (SONNET_45, {"reasoning_effort": "high"}, {"type": "enabled", "budget_tokens": 4096}, None, None),
        (SONNET_45, {"reasoning_effort": "minimal"}, {"type": "enabled", "budget_tokens": 1024}, None, None),
        # Opus 4.5 takes a budget and an effort
        (OPUS_45, {"reasoning_effort": "high"}, {"type": "enabled", "budget_tokens": 4096}, "high", None),
        # adaptive models: adaptive thinking with the effort
        (SONNET_46, {"reasoning_effort": "low"}, {"type": "adaptive"}, "low", None),
        (OPUS_47, {"reasoning_effort": "minimal"}, {"type": "adaptive"}, "low", None),
        # LiteLLM's thinking parameter: a budget where the model takes one, adaptive where it refuses budgets
        (
            SONNET_45,
            {"thinking": {"type": "enabled", "budget_tokens": 3000}},
            {"type": "enabled", "budget_tokens": 3000},
            None,
            None,
        ),
        (OPUS_47, {"thinking": {"type": "enabled", "budget_tokens": 3000}}, {"type": "adaptive"}, None, None),
        (
            SONNET_46,
            {"thinking": {"type": "adaptive"}, "reasoning_effort": "high"},
            {"type": "adaptive"},
            "high",
            None,
        ),
        # max_tokens at or under the budget: raised by the budget, so the answer keeps its room
        (
            SONNET_45,
            {"reasoning_effort": "high", "max_tokens": 500},
            {"type": "enabled", "budget_tokens": 4096},
            None,
            4596,
        ),
        (SONNET_45, {"reasoning_effort": "low", "max_tokens": 5000}, None, None, 5000),
    ],
)
def test_reasoning_is_mapped_per_model(
    model_id: str, extra: dict[str, Any], thinking: dict[str, Any], effort: str | None, max_tokens: int | None
) -> None:
    call = convert(chat(user("Why?"), **extra), model_id)
    fields = call.body["additionalModelRequestFields"]
    if thinking is not None:
        assert fields["thinking"] == thinking
    assert fields.get("output_config") == ({"effort": effort} if effort else None)
    assert call.body.get("inferenceConfig", {}).get("maxTokens") == max_tokens
    assert "effort" not in call.dropped and "reasoning_effort" not in call.dropped


@pytest.mark.parametrize(
    ("model_id", "extra", "fields"),
    [
        (
            "eu.amazon.nova-2-lite-v1:0",
            {"reasoning_effort": "minimal"},
            {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}},
        ),
        (
            "global.amazon.nova-2-lite-v1:0",
            {"thinking": {"type": "enabled", "budget_tokens": 4000}},
            {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "medium"}},
        ),
        ("openai.gpt-oss-120b-1:0", {"reasoning_effort": "high"}, {"reasoning_effort": "high"}),
        ("openai.gpt-oss-20b-1:0", {"reasoning_effort": "max"}, {"reasoning_effort": "high"}),
    ],
)
def test_nova_2_and_gpt_oss_take_the_effort_in_their_own_field(
    model_id: str, extra: dict[str, Any], fields: dict[str, Any]
) -> None:
    call = convert(chat(user("Why?"), **extra), model_id)
    assert call.body["additionalModelRequestFields"] == fields
    assert call.dropped == ()


@pytest.mark.parametrize(
    ("model_id", "extra", "param"),
    [
        (HAIKU_3, {"reasoning_effort": "high"}, "reasoning_effort"),
        (LLAMA, {"reasoning_effort": "low"}, "reasoning_effort"),
        (HAIKU_3, {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
    ],
)
def test_reasoning_on_a_model_without_it_is_a_400_naming_the_parameter(
    model_id: str, extra: dict[str, Any], param: str
) -> None:
    error = expect_400(convert, chat(user("Why?"), **extra), model_id, param=param)
    assert "extended thinking" in error.message and "drop_params" in error.message
    dropped = convert(chat(user("Why?"), **extra), model_id, drop_params=True)
    assert "additionalModelRequestFields" not in dropped.body
    assert dropped.dropped == (param,)


def test_a_deployment_default_reasoning_effort_applies_when_the_request_says_nothing() -> None:
    parsed = parse_chat_request(chat(user("Why?")))
    call = to_converse(
        parsed, model_id=SONNET_45, defaults={"reasoning_effort": "medium"}, drop_params=False, images={}
    )
    assert call.body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    asked = parse_chat_request(chat(user("Why?"), reasoning_effort="high"))
    own = to_converse(
        asked, model_id=SONNET_45, defaults={"reasoning_effort": "low"}, drop_params=False, images={}
    )
    assert own.body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 4096  # the request wins
    # a model without reasoning: the deployment's default is dropped, named, never a 400 for the client
    plain = to_converse(
        parsed, model_id=HAIKU_3, defaults={"reasoning_effort": "high"}, drop_params=False, images={}
    )
    assert "additionalModelRequestFields" not in plain.body and plain.dropped == ("reasoning_effort",)


WEATHER = function_tool("weather", {"type": "object"})
JSON_ANSWER = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}


@pytest.mark.parametrize(
    ("extra", "param", "kept"),
    [
        (
            {"temperature": 0.2},
            "temperature",
            lambda body: "temperature" not in body.get("inferenceConfig", {}),
        ),
        ({"top_k": 40}, "top_k", lambda body: "top_k" not in body["additionalModelRequestFields"]),
        ({"top_p": 0.5}, "top_p", lambda body: "topP" not in body.get("inferenceConfig", {})),
        (
            {"tools": [WEATHER], "tool_choice": "required"},
            "tool_choice",
            lambda body: body["toolConfig"]["toolChoice"] == {"auto": {}},
        ),
        (
            {"response_format": JSON_ANSWER},
            "response_format",
            lambda body: body["toolConfig"]["toolChoice"] == {"auto": {}},
        ),
    ],
)
def test_what_claude_refuses_with_thinking_is_a_400_or_dropped(
    extra: dict[str, Any], param: str, kept: Any
) -> None:
    body = chat(user("Why?"), reasoning_effort="low", **extra)
    error = expect_400(convert, body, SONNET_45, param=param)
    assert "reasoning" in error.message
    relaxed = convert(body, SONNET_45, drop_params=True)
    assert param in relaxed.dropped and kept(relaxed.body)
    assert relaxed.body["additionalModelRequestFields"]["thinking"]["type"] == "enabled"


def test_values_claude_takes_with_thinking_pass() -> None:
    body = chat(
        user("Why?"), reasoning_effort="low", temperature=1, top_p=0.95, tools=[WEATHER], tool_choice="auto"
    )
    call = convert(body, SONNET_45)
    assert call.body["inferenceConfig"] == {"temperature": 1, "topP": 0.95} and call.dropped == ()
    # no reasoning, no constraint
    assert convert(chat(user("Why?"), temperature=0.2, top_k=5), SONNET_45).dropped == ()


def test_no_reasoning_asked_is_nothing_sent() -> None:
    for extra in ({}, {"reasoning_effort": "none"}, {"thinking": {"type": "disabled"}}):
        call = convert(chat(user("Why?"), **extra), HAIKU_3)
        assert "additionalModelRequestFields" not in call.body and call.dropped == ()


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"thinking": "on"}, "thinking"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"service_tier": "scale"}, "service_tier"),
        ({"performanceConfig": {"latency": "fast"}}, "performanceConfig.latency"),
        ({"guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"}}, "guardrailConfig"),
        (
            {
                "messages": [
                    user([{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}])
                ]
            },
            "messages[0].content[0].cache_control.ttl",
        ),
        (
            {
                "messages": [
                    user("x"),
                    {"role": "assistant", "content": "y", "thinking_blocks": [{"type": "x"}]},
                ]
            },
            "messages[1].thinking_blocks[0].type",
        ),
    ],
)
def test_bad_feature_fields_are_400s_naming_the_field(extra: dict[str, Any], param: str) -> None:
    expect_400(parse_chat_request, {**chat(user("Hi")), **extra}, param=param)


def test_thinking_blocks_go_back_to_bedrock_unchanged_before_the_text() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "c2ln"},
        {"type": "redacted_thinking", "data": "b3BhcXVl"},
    ]
    body = chat(
        user("Why?"),
        {"role": "assistant", "content": "Because.", "thinking_blocks": blocks},
        user("And?"),
        reasoning_effort="low",
    )
    assert convert(body, SONNET_45).body["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Let me see.", "signature": "c2ln"}}},
        {"reasoningContent": {"redactedContent": "b3BhcXVl"}},
        {"text": "Because."},
    ]
    # a model without reasoning gets the turn without them
    assert convert(body | {"reasoning_effort": None}, HAIKU_3).body["messages"][1]["content"] == [
        {"text": "Because."}
    ]


def test_the_responses_api_reasoning_effort_is_sent() -> None:
    parsed = parse_responses_request({"model": "m", "input": "Why?", "reasoning": {"effort": "high"}}, [])
    call = to_converse(parsed.chat, model_id=SONNET_45, defaults={}, drop_params=False, images={})
    assert call.body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    # Codex sends an effort to every model: one without reasoning gets the request without it, named
    plain = to_converse(parsed.chat, model_id=HAIKU_3, defaults={}, drop_params=False, images={})
    assert "additionalModelRequestFields" not in plain.body
    assert plain.dropped == ("reasoning.effort",)


# ----------------------------------------------------------------------------------------------------------
# prompt caching


def _system_cached(ttl: str | None) -> dict[str, Any]:
    control: dict[str, Any] = {"type": "ephemeral"} | ({"ttl": ttl} if ttl else {})
    return {"role": "system", "content": [{"type": "text", "text": LONG, "cache_control": control}]}


@pytest.mark.parametrize(
    ("model_id", "ttl", "point", "dropped"),
    [
        (SONNET_45, "1h", {"type": "default", "ttl": "1h"}, ()),
        (SONNET_45, "5m", {"type": "default"}, ()),
        (SONNET_45, None, {"type": "default"}, ()),
        (HAIKU_3, "1h", {"type": "default"}, ("cache_control.ttl",)),  # no one-hour cache: five minutes
    ],
)
def test_cache_control_ttl_becomes_the_cache_point_ttl_where_the_model_takes_it(
    model_id: str, ttl: str | None, point: dict[str, Any], dropped: tuple[str, ...]
) -> None:
    call = convert(chat(_system_cached(ttl), user("Hi")), model_id)
    assert call.body["system"] == [{"text": LONG}, {"cachePoint": point}]
    assert call.dropped == dropped


def test_cache_control_on_a_tool_and_a_message_with_ttl() -> None:
    tool = function_tool("lookup", {"type": "object"}) | {"cache_control": {"type": "ephemeral", "ttl": "1h"}}
    message = user("Hi") | {"cache_control": {"type": "ephemeral"}}
    call = convert(chat(message, tools=[tool]), OPUS_45)
    assert call.body["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    assert call.body["messages"][0]["content"][-1] == {"cachePoint": {"type": "default"}}


SYSTEM_POINT = CacheInjection("message", role="system")
TOOLS_POINT = CacheInjection("tool_config", ttl="1h")


@pytest.mark.parametrize(
    ("points", "messages", "tools", "system", "tool_tail", "last_user_tail"),
    [
        # LiteLLM's usual setting: the system prompt
        ((SYSTEM_POINT,), [{"role": "system", "content": LONG}, user("Hi")], False, True, None, None),
        # after the tools (LiteLLM's bedrock tool_config location), with its TTL
        ((TOOLS_POINT,), [user("Hi")], True, False, {"cachePoint": {"type": "default", "ttl": "1h"}}, None),
        # the last message, by index
        (
            (CacheInjection("message", index=-1),),
            [user("a"), {"role": "assistant", "content": "b"}, user("c")],
            False,
            False,
            None,
            {"cachePoint": {"type": "default"}},
        ),
        # an index out of range, or a role nobody has: nothing
        (
            (CacheInjection("message", index=9), CacheInjection("message", role="assistant")),
            [user("Hi")],
            False,
            False,
            None,
            None,
        ),
    ],
)
def test_cache_control_injection_points_add_cache_points(
    points: tuple[CacheInjection, ...],
    messages: list[dict[str, Any]],
    tools: bool,
    system: bool,
    tool_tail: dict[str, Any] | None,
    last_user_tail: dict[str, Any] | None,
) -> None:
    body = chat(*messages, **({"tools": [function_tool("lookup", {"type": "object"})]} if tools else {}))
    call = convert(body, SONNET_45, features=BedrockFeatures(cache_injection=points))
    assert ({"cachePoint": {"type": "default"}} in call.body.get("system", [])) is system
    if tool_tail is not None:
        assert call.body["toolConfig"]["tools"][-1] == tool_tail
    last = call.body["messages"][-1]["content"][-1]
    assert (last if "cachePoint" in last else None) == last_user_tail
    # the request itself is untouched: a fallback deployment translates it afresh
    assert convert(body, SONNET_45).body.get("system", [{}])[-1] != {"cachePoint": {"type": "default"}}


def test_injection_keeps_the_clients_own_cache_point_and_stops_at_four() -> None:
    system = _system_cached("1h")
    body = chat(system, user("a"), {"role": "assistant", "content": "b"}, user("c"), user("d"))
    features = BedrockFeatures(
        cache_injection=(
            SYSTEM_POINT,
            CacheInjection("message", role="user"),
            CacheInjection("message", index=1),
        )
    )
    call = convert(body, SONNET_45, features=features)
    points = [block for block in call.body["system"] if "cachePoint" in block]
    assert points == [{"cachePoint": {"type": "default", "ttl": "1h"}}]  # the client's, TTL kept
    total = sum("cachePoint" in b for m in call.body["messages"] for b in m["content"]) + len(points)
    assert total == 4


# ----------------------------------------------------------------------------------------------------------
# service tier, latency, guardrails; model ids


GUARDRAIL = {"guardrailIdentifier": "gr-1", "guardrailVersion": "2", "trace": "enabled"}


@pytest.mark.parametrize(
    ("extra", "features", "expected"),
    [
        ({}, NO_FEATURES, {}),
        ({"service_tier": "priority"}, NO_FEATURES, {"serviceTier": {"type": "priority"}}),
        ({"service_tier": "auto"}, BedrockFeatures(service_tier="flex"), {"serviceTier": {"type": "flex"}}),
        (
            {"service_tier": "default"},
            BedrockFeatures(service_tier="flex"),
            {"serviceTier": {"type": "default"}},
        ),
        (
            {"performanceConfig": {"latency": "optimized"}},
            NO_FEATURES,
            {"performanceConfig": {"latency": "optimized"}},
        ),
        ({}, BedrockFeatures(latency="optimized"), {"performanceConfig": {"latency": "optimized"}}),
        ({}, BedrockFeatures(guardrail=GUARDRAIL), {"guardrailConfig": GUARDRAIL}),
    ],
)
def test_service_tier_latency_and_guardrail_reach_converse(
    extra: dict[str, Any], features: BedrockFeatures, expected: dict[str, Any]
) -> None:
    call = convert(chat(user("Hi"), **extra), SONNET_45, features=features)
    sent = {
        key: call.body[key]
        for key in ("serviceTier", "performanceConfig", "guardrailConfig")
        if key in call.body
    }
    assert sent == expected


@pytest.mark.parametrize("model_id", [PROFILE_ARN, "global.anthropic.claude-sonnet-4-5-20250929-v1:0"])
def test_inference_profile_arns_and_global_ids_are_models(model_id: str) -> None:
    call = convert(chat(user("Hi"), reasoning_effort="low"), model_id)
    assert call.body["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
    # an ARN's model is unknown here: it is sent a budget and Bedrock has the last word
    assert call.body["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}


# ----------------------------------------------------------------------------------------------------------
# the answer, whole and streamed


REASONED = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": "Two and two make four.", "signature": "c2ln"}
                    }
                },
                {"text": "4"},
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30, "cacheReadInputTokens": 1500},
    "serviceTier": {"type": "priority"},
}


def test_a_reasoned_answer_renders_reasoning_content_thinking_blocks_and_reasoning_tokens() -> None:
    answer = from_converse(REASONED, json_tool=None)
    completion = completion_from_answers("r1", 1, "claude", [answer])
    message = completion["choices"][0]["message"]
    assert message["reasoning_content"] == "Two and two make four."
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Two and two make four.", "signature": "c2ln"}
    ]
    usage = completion["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 6  # 22 characters, about 4 a token
    assert usage["prompt_tokens_details"]["cached_tokens"] == 1500
    assert usage["prompt_tokens"] == 1510
    assert completion["service_tier"] == "priority"


def test_an_answer_without_a_tier_has_no_service_tier_key() -> None:
    plain = {**REASONED, "serviceTier": None}
    assert "service_tier" not in completion_from_answers("r1", 1, "m", [from_converse(plain, json_tool=None)])


def test_a_guardrail_intervention_is_finish_reason_content_filter_with_its_message() -> None:
    blocked = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Sorry, blocked by policy."}]}},
        "stopReason": "guardrail_intervened",
        "usage": {"inputTokens": 5, "outputTokens": 4},
    }
    choice = completion_from_answers("r1", 1, "m", [from_converse(blocked, json_tool=None)])["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] == "Sorry, blocked by policy."


def test_a_reasoned_stream_sends_reasoning_deltas_the_signature_and_reasoning_tokens() -> None:
    translator = StreamTranslator(ChunkRenderer("r1", "claude", 1, True), None)
    chunks = chunks_from_converse(translator, REASONED)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert {"reasoning_content": "Two and two make four."} in deltas
    assert {"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "c2ln"}]} in deltas
    usage = [c["usage"] for c in chunks if c.get("usage")][-1]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 6
    answer = translator.answer()
    assert answer.service_tier == "priority"
    assert answer.reasoning_parts[0].signature == "c2ln"


# a deployment's reasoning defaults (litellm_params) -> what Converse gets when the request says nothing
@pytest.mark.parametrize(
    ("model_id", "defaults", "thinking", "effort"),
    [
        (SONNET_45, {"thinking": {"type": "enabled", "budget_tokens": 3000}}, ("enabled", 3000), None),
        (
            SONNET_46,
            {"thinking": {"type": "adaptive"}, "reasoning_effort": "high"},
            ("adaptive", None),
            "high",
        ),
        (OPUS_47, {"thinking": {"type": "enabled", "budget_tokens": 3000}}, ("adaptive", None), None),
        (SONNET_46, {"thinking": {"type": "disabled"}, "reasoning_effort": "high"}, None, None),
        (SONNET_45, {"reasoning_effort": "high"}, ("enabled", 4096), None),
    ],
)
def test_a_deployment_default_thinking_applies_when_the_request_says_nothing(
    model_id: str, defaults: dict[str, Any], thinking: tuple[str, int | None] | None, effort: str | None
) -> None:
    call = to_converse(
        parse_chat_request(chat(user("Why?"))),
        model_id=model_id,
        defaults=defaults,
        drop_params=False,
        images={},
    )
    fields = call.body.get("additionalModelRequestFields") or {}
    if thinking is None:
        assert "thinking" not in fields
    else:
        kind, budget = thinking
        assert fields["thinking"]["type"] == kind and fields["thinking"].get("budget_tokens") == budget
    assert (fields.get("output_config") or {}).get("effort") == effort


def test_a_requests_own_reasoning_wins_over_the_deployments_thinking() -> None:
    defaults = {"thinking": {"type": "enabled", "budget_tokens": 8000}}
    own = parse_chat_request(chat(user("Why?"), thinking={"type": "enabled", "budget_tokens": 1500}))
    call = to_converse(own, model_id=SONNET_45, defaults=defaults, drop_params=False, images={})
    assert call.body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 1500
    effort = parse_chat_request(chat(user("Why?"), reasoning_effort="low"))
    call = to_converse(effort, model_id=SONNET_45, defaults=defaults, drop_params=False, images={})
    assert call.body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 1024
    # a model without reasoning: the deployment's default is dropped, named, never a 400 for the client
    plain = to_converse(
        parse_chat_request(chat(user("Why?"))),
        model_id=HAIKU_3,
        defaults=defaults,
        drop_params=False,
        images={},
    )
    assert "additionalModelRequestFields" not in plain.body and plain.dropped == ("thinking",)


TRACE = {
    "inputAssessment": {
        "gr-1": {"contentPolicy": {"filters": [{"type": "MISCONDUCT", "action": "BLOCKED"}]}}
    },
    "actionReason": "Guardrail blocked.",
}
TRACED = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Sorry."}]}},
    "stopReason": "guardrail_intervened",
    "usage": {"inputTokens": 5, "outputTokens": 2},
    "serviceTier": {"type": "flex"},
    "trace": {"guardrail": TRACE},
}


def test_a_guardrail_trace_is_returned_on_the_completion() -> None:
    completion = completion_from_answers("r1", 1, "m", [from_converse(TRACED, json_tool=None)])
    assert completion["guardrail_trace"] == TRACE
    untraced = {key: value for key, value in TRACED.items() if key != "trace"}
    assert "guardrail_trace" not in completion_from_answers(
        "r1", 1, "m", [from_converse(untraced, json_tool=None)]
    )


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_stream_puts_the_service_tier_on_every_chunk_and_the_guardrail_trace_last(
    include_usage: bool,
) -> None:
    translator = StreamTranslator(ChunkRenderer("r1", "m", 1, include_usage, service_tier="flex"), None)
    chunks = chunks_from_converse(translator, TRACED)
    assert chunks and all(chunk["service_tier"] == "flex" for chunk in chunks)
    assert [chunk for chunk in chunks if "guardrail_trace" in chunk] == [chunks[-1]]
    assert chunks[-1]["guardrail_trace"] == TRACE and chunks[-1]["choices"] == []
    assert ("usage" in chunks[-1]) is include_usage
    assert translator.answer().guardrail_trace == TRACE


def test_a_stream_without_a_tier_or_trace_has_neither_key() -> None:
    translator = StreamTranslator(ChunkRenderer("r1", "m", 1, False), None)
    plain = {key: value for key, value in TRACED.items() if key not in ("trace", "serviceTier")}
    chunks = chunks_from_converse(translator, plain)
    assert chunks and not any("service_tier" in chunk or "guardrail_trace" in chunk for chunk in chunks)
