"""What each Bedrock model family accepts through Converse, so bad requests fail here with a clear 400.

Facts come from AWS's "supported models and model features" table (see shared/reference/bedrock-runtime.md)
and, for the 2025-2026 models, from AWS's model cards (docs.aws.amazon.com/bedrock/latest/userguide/
model-card-*.html: context window, max output, reasoning) and Anthropic's model pages. A figure the stored
pages did not confirm is marked UNVERIFIED where it is set.
Unknown ids (new models, application inference profiles, provisioned throughput ARNs) get permissive
defaults: Bedrock then has the last word and its errors are mapped as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TypedDict

# Geography prefixes of cross-region (system-defined) inference profile ids: the one list of them.
GEO_PREFIXES = frozenset({"us", "eu", "apac", "global", "us-gov", "ca", "jp", "au", "apne1"})


def profile_geography(model_id: str) -> str | None:
    """`eu` for `eu.anthropic...`, None for a plain foundation model id."""
    head, dot, rest = model_id.partition(".")
    return head if dot and head in GEO_PREFIXES and "." in rest else None


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    # claude | nova | gpt-oss | titan-text | titan-embed | cohere-embed | llama | mistral | mistral-large
    # | unknown
    family: str
    system_prompt: bool = True
    tools: bool = True
    streaming_tools: bool = True
    images: bool = True
    tool_choice_any: bool = True  # toolChoice {"any"} accepted (OpenAI's "required")
    # toolChoice {"tool": {"name"}} accepted (a named function): Claude 3+ (and Nova), not Mistral Large,
    # which AWS documents as taking "any" only (ToolChoice in the Bedrock API reference).
    tool_choice_tool: bool = True
    embedding: bool = False
    context_window: int | None = None
    max_output_tokens: int | None = None
    documents: bool = True
    cache_1h: bool = False  # cachePoint {"ttl": "1h"} accepted (Claude 4.5 and later; others: 5 minutes)
    cache_min_tokens: int = 1024  # the shortest prefix a cache point caches (shorter: ignored, no error)
    top_k: bool = True  # additionalModelRequestFields {"top_k"} accepted
    # the `thinking` types this model takes in additionalModelRequestFields: "enabled" (with budget_tokens),
    # "adaptive"; empty: no extended thinking at all
    thinking: frozenset[str] = frozenset()
    effort: bool = False  # additionalModelRequestFields {"output_config": {"effort"}} accepted
    # where a reasoning request goes in additionalModelRequestFields, by model family: "thinking" (Claude,
    # the types above), "reasoningConfig" (Nova 2: {"type": "enabled", "maxReasoningEffort": low|medium|
    # high}), "reasoning_effort" (gpt-oss: low|medium|high); "" when the model does not reason on request
    reasoning_field: str = ""


UNKNOWN = ModelCapabilities(family="unknown")


class _Features(TypedDict):
    system_prompt: bool
    tools: bool
    streaming_tools: bool
    images: bool
    tool_choice_any: bool
    tool_choice_tool: bool
    documents: bool


_NO_CHAT_FEATURES: _Features = {
    "system_prompt": False,
    "tools": False,
    "streaming_tools": False,
    "images": False,
    "tool_choice_any": False,
    "tool_choice_tool": False,
    "documents": False,
}


def base_model_id(model_id: str) -> str:
    """The foundation model id behind a plain id, a geography-prefixed profile id or an ARN."""
    model_id = model_id.strip()
    if model_id.startswith("arn:"):
        model_id = model_id.rsplit("/", 1)[-1]
    if profile_geography(model_id) is not None:
        model_id = model_id.partition(".")[2]
    return model_id


@lru_cache(maxsize=1024)
def capabilities_for(model_id: str) -> ModelCapabilities:
    """Capabilities of a Bedrock model id (plain, `eu.`/`us.`/`apac.`/`global.` profile, or ARN)."""
    mid = base_model_id(model_id).lower()
    if mid.startswith("anthropic.claude"):
        return replace(
            _claude(mid), cache_1h=_claude_version(mid) >= (4, 5), cache_min_tokens=_claude_cache_minimum(mid)
        )
    if mid.startswith("amazon.titan-embed"):
        return ModelCapabilities(
            family="titan-embed",
            embedding=True,
            context_window=8192,
            max_output_tokens=0,
            **_NO_CHAT_FEATURES,
        )
    if mid.startswith("cohere.embed"):
        return ModelCapabilities(
            family="cohere-embed",
            embedding=True,
            context_window=128_000 if "embed-v4" in mid else 512,  # AWS model card "Embed v4": 128K
            max_output_tokens=0,
            **_NO_CHAT_FEATURES,
        )
    if mid.startswith("amazon.nova"):
        return _nova(mid)
    if mid.startswith("openai.gpt-oss"):
        # AWS "OpenAI models" page: text in and out, 128K context, tools through Converse; the reasoning
        # level (low/medium/high) is the model's own `reasoning_effort` field. Max output: OpenAI's model
        # page gives 131,072 (the model's own limit); AWS's page gives none, so 128K, what Bedrock's window
        # allows (UNVERIFIED for Bedrock: Bedrock has the last word).
        return ModelCapabilities(
            family="gpt-oss",
            images=False,
            documents=False,
            context_window=128_000,
            max_output_tokens=128_000,
            top_k=False,
            reasoning_field="reasoning_effort",
        )
    if mid.startswith("amazon.titan-text"):
        window, output = (
            (4096, 4096) if "lite" in mid else (32000, 3072) if "premier" in mid else (8192, 8192)
        )
        return ModelCapabilities(
            family="titan-text",
            context_window=window,
            max_output_tokens=output,
            **_NO_CHAT_FEATURES,
            top_k=False,
        )
    if mid.startswith("meta.llama"):
        return _llama(mid)
    if mid.startswith("mistral."):
        return _mistral(mid)
    return UNKNOWN


def _claude(mid: str) -> ModelCapabilities:
    if "claude-v2" in mid or "claude-instant" in mid:
        return ModelCapabilities(
            family="claude",
            tools=False,
            streaming_tools=False,
            images=False,
            tool_choice_any=False,
            tool_choice_tool=False,
            documents=False,
            context_window=100_000 if "instant" in mid else 200_000,
            max_output_tokens=4096,
        )
    window, output = _claude_limits(mid)
    thinking, effort = _claude_reasoning(mid)
    return ModelCapabilities(
        family="claude",
        context_window=window,
        max_output_tokens=output,
        thinking=thinking,
        effort=effort,
        reasoning_field="thinking" if thinking else "",
    )


def _claude_limits(mid: str) -> tuple[int, int]:
    """(context window, max output) by Claude generation: AWS model cards (Opus 4.6 and 4.7: 1M / 128K;
    Haiku 4.5: 200K / 64K) and Anthropic's model pages (Sonnet 4.5, Opus 4.5: 200K / 64K; Sonnet 4.6: 1M /
    128K, confirmed on Anthropic's Sonnet 4.6 model page)."""
    if "claude-3-5" in mid:
        return 200_000, 8192
    if "claude-3-7" in mid:
        return 200_000, 64_000
    if "claude-3-" in mid:
        return 200_000, 4096
    match = _CLAUDE_GENERATION.search(mid)
    if match is None:  # a newer naming scheme: the newest known limits
        return 1_000_000, 128_000
    tier, version = match.group(1), (int(match.group(2)), int(match.group(3) or 0))
    if version >= (4, 6):
        return 1_000_000, 128_000
    if tier == "opus" and version < (4, 5):
        return 200_000, 32_000  # Opus 4 and 4.1
    return 200_000, 64_000  # Sonnet 4 / 4.5, Haiku 4.5, Opus 4.5


_BUDGET = frozenset({"enabled"})
_BOTH = frozenset({"enabled", "adaptive"})
_ADAPTIVE = frozenset({"adaptive"})
_CLAUDE_GENERATION = re.compile(r"claude-(opus|sonnet|haiku)-(\d+)(?:-(\d)(?!\d))?")


def _claude_reasoning(mid: str) -> tuple[frozenset[str], bool]:
    """Extended thinking and effort by Claude generation (Anthropic's model docs): 3.7 and 4.0-4.5 take a
    thinking budget; 4.6 takes a budget (deprecated) or adaptive; 4.7 and later adaptive only (budget_tokens
    is refused). Effort: Opus 4.5, and every model from 4.6 on."""
    if "claude-3-7" in mid:
        return _BUDGET, False
    match = _CLAUDE_GENERATION.search(mid)
    if match is None:
        return (frozenset(), False) if "claude-3" in mid else (_ADAPTIVE, True)
    tier, version = match.group(1), (int(match.group(2)), int(match.group(3) or 0))
    effort = version >= (4, 6) or (tier == "opus" and version >= (4, 5))
    if version >= (4, 7):
        return _ADAPTIVE, effort
    if version >= (4, 6):
        return _BOTH, effort
    return _BUDGET, effort


def _nova(mid: str) -> ModelCapabilities:
    """Amazon Nova: Micro is text only (128K); Lite and Pro take images and documents (300K); Nova 2 Lite
    takes them too with a 1M window, 64K output and extended thinking through `reasoningConfig` (AWS Nova 2
    user guide, "Reasoning capabilities"). Nova v1 max output 10K (UNVERIFIED: the v1 model card says 5K,
    AWS's Nova 1 -> Nova 2 migration post 10K)."""
    if "nova-2" in mid:
        return ModelCapabilities(
            family="nova",
            context_window=1_000_000,
            max_output_tokens=64_000,
            reasoning_field="reasoningConfig",
        )
    if "nova-micro" in mid:
        return ModelCapabilities(
            family="nova",
            images=False,
            documents=False,
            context_window=128_000,
            max_output_tokens=10_000,
        )
    return ModelCapabilities(family="nova", context_window=300_000, max_output_tokens=10_000)


def _llama(mid: str) -> ModelCapabilities:
    # Llama 3.1+ takes tools (not while streaming, never forced); Llama 2 / 3.0 take none.
    tools = not (mid.startswith("meta.llama2") or mid.startswith("meta.llama3-8b") or "llama3-70b" in mid)
    vision = "llama3-2-11b" in mid or "llama3-2-90b" in mid or mid.startswith("meta.llama4")
    window = 8192 if not tools else 128_000
    return ModelCapabilities(
        family="llama",
        tools=tools,
        streaming_tools=False,
        images=vision,
        tool_choice_any=False,
        tool_choice_tool=False,
        documents=tools,
        context_window=window,
        max_output_tokens=2048,
        top_k=False,
    )


def _mistral(mid: str) -> ModelCapabilities:
    if "mistral-large-3" in mid or "magistral" in mid or "ministral-3" in mid:
        return _mistral_3(mid)
    if "mistral-7b" in mid or "mixtral" in mid:
        return ModelCapabilities(
            family="mistral", context_window=32_000, max_output_tokens=8192, **_NO_CHAT_FEATURES
        )
    if "mistral-small" in mid:
        return ModelCapabilities(
            family="mistral",
            streaming_tools=False,
            images=False,
            tool_choice_tool=False,
            documents=False,
            context_window=32_000,
            max_output_tokens=8192,
        )
    # mistral-large-2402 (32K), mistral-large-2407 (128K), pixtral-large (vision; AWS model card: 128K
    # context, 16K output)
    return ModelCapabilities(
        family="mistral-large",
        streaming_tools=False,
        tool_choice_tool=False,
        images="pixtral" in mid,
        documents=False,
        context_window=32_000 if "2402" in mid else 128_000,
        max_output_tokens=16_384 if "pixtral" in mid else 8192,
    )


def _mistral_3(mid: str) -> ModelCapabilities:
    """Mistral's December 2025 line-up on Bedrock (Converse, tools). Mistral Large 3: images, 256K context
    (Mistral's model page; AWS's card confirms image input); Magistral Small 2509: a reasoning model that
    always reasons (no request field to turn it on), images, 128K; Ministral 3 3B: images; 8B and 14B: text
    only on Bedrock. Max output and the 8B / 14B / Magistral windows come from a public Bedrock model
    registry (UNVERIFIED: AWS's cards were not readable in full). Tool choice and streaming tools are
    assumed as on Mistral Large (any, no named tool; tools not streamed: UNVERIFIED), so the gateway never
    sends what the older Mistral models refused."""
    if "mistral-large-3" in mid:
        window, output, images = 256_000, 8192, True
    elif "magistral" in mid:
        window, output, images = 128_000, 40_000, True
    elif "ministral-3-3b" in mid:
        window, output, images = 256_000, 8192, True
    else:  # ministral-3-8b, ministral-3-14b
        window, output, images = 128_000, 4096, False
    return ModelCapabilities(
        family="mistral-large",
        streaming_tools=False,
        tool_choice_tool=False,
        images=images,
        documents=False,
        context_window=window,
        max_output_tokens=output,
        top_k=False,
    )


def _claude_cache_minimum(mid: str) -> int:
    """The shortest cacheable prefix, by Claude model (Anthropic's prompt caching docs, as quoted in
    anthropics/anthropic-sdk-python#1194, and AWS's Haiku 4.5 card: "Min tokens per cache checkpoint
    4,096"): 4,096 for Opus 4.5 / 4.6 and Haiku 4.5, 2,048 for Haiku 3 / 3.5 and Opus 4.7 (UNVERIFIED: a
    third-party summary of the same table), 1,024 for the others (Sonnet 3.7 to 4.6, Opus 4 / 4.1)."""
    if "claude-3-haiku" in mid or "claude-3-5-haiku" in mid:
        return 2048
    match = _CLAUDE_GENERATION.search(mid)
    if match is None:
        return 1024
    tier, version = match.group(1), (int(match.group(2)), int(match.group(3) or 0))
    if (tier == "opus" and version in ((4, 5), (4, 6))) or (tier == "haiku" and version == (4, 5)):
        return 4096
    if tier == "opus" and version == (4, 7):
        return 2048
    return 1024


def _claude_version(mid: str) -> tuple[int, int]:
    """(4, 5) for claude-sonnet-4-5; (0, 0) for Claude 3.x and older; newer naming schemes count as newest."""
    match = _CLAUDE_GENERATION.search(mid)
    if match is None:
        return (0, 0) if "claude-3" in mid or "claude-v" in mid or "instant" in mid else (99, 0)
    return int(match.group(2)), int(match.group(3) or 0)
