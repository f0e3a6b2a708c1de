"""The emulated model catalogue: the seed's models, the 2025-2026 line-up, and their inference profiles.

Each model carries what Bedrock enforces for it (system prompt, tools, streaming tools, tool choices, images,
context window, output limit), so the emulator refuses exactly what Bedrock refuses and a gateway can be
tested against realistic errors. Where a model is served (on-demand regions, which profiles exist and from
which regions) is not decided here: it comes from the gateway's own table, bedrock.availability, so the
emulator cannot offer an id that AWS does not; nor is a model's lifecycle (ACTIVE or LEGACY). A few
application inference profiles stand for the ones an account creates (cost-allocation tags), so a gateway
can be tested resolving one through GetInferenceProfile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from bedrock_proxy.bedrock.availability import AVAILABILITY, Availability

ACCOUNT_ID = "123456789012"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One foundation model and the capabilities Bedrock enforces for it."""

    model_id: str
    name: str
    provider: str
    native: str  # request/response family: anthropic, titan-text, llama, mistral, titan-embed, cohere-embed
    context_window: int
    max_output: int = 4096
    system: bool = True
    tools: bool = True
    stream_tools: bool = True
    tool_choices: frozenset[str] = frozenset({"auto", "any", "tool"})
    images: bool = False
    embedding_dimensions: tuple[int, ...] = ()
    input_modalities: tuple[str, ...] = ("TEXT",)

    @property
    def is_embedding(self) -> bool:
        return bool(self.embedding_dimensions)

    @property
    def output_modalities(self) -> tuple[str, ...]:
        return ("EMBEDDING",) if self.is_embedding else ("TEXT",)

    @property
    def streaming(self) -> bool:
        return not self.is_embedding

    @property
    def availability(self) -> Availability:
        return AVAILABILITY[self.model_id]

    @property
    def lifecycle(self) -> str:
        return self.availability.lifecycle

    def on_demand_in(self, region: str) -> bool:
        return region in self.availability.on_demand

    def offered_in(self, region: str) -> bool:
        """Listed by ListFoundationModels in `region`: served on-demand there or through a profile."""
        return self.availability.offered_in(region)


def _claude(model_id: str, name: str, max_output: int = 4096, window: int = 200_000) -> ModelSpec:
    return ModelSpec(
        model_id,
        name,
        "Anthropic",
        "anthropic",
        window,
        max_output,
        images=True,
        input_modalities=("TEXT", "IMAGE"),
    )


def _nova(model_id: str, name: str, window: int, max_output: int, images: bool = True) -> ModelSpec:
    # Converse tool use on Nova: auto, any and a named tool (AWS "Tool use" for Nova); streaming tools too
    return ModelSpec(
        model_id,
        name,
        "Amazon",
        "nova",
        window,
        max_output,
        images=images,
        input_modalities=("TEXT", "IMAGE", "VIDEO") if images else ("TEXT",),
    )


def _gpt_oss(model_id: str, name: str) -> ModelSpec:
    # AWS "OpenAI models": text only, 128K context, tools through Converse
    return ModelSpec(model_id, name, "OpenAI", "gpt-oss", 128_000, 128_000)


def _mistral_3(model_id: str, name: str, window: int, max_output: int, images: bool = False) -> ModelSpec:
    # Mistral 3 (December 2025), as bedrock.capabilities: tools with toolChoice auto/any, not streamed
    return ModelSpec(
        model_id,
        name,
        "Mistral AI",
        "mistral",
        window,
        max_output,
        stream_tools=False,
        tool_choices=frozenset({"auto", "any"}),
        images=images,
        input_modalities=("TEXT", "IMAGE") if images else ("TEXT",),
    )


class _Capabilities(TypedDict, total=False):
    """A family's capability overrides, spread into ModelSpec (so each row states only what differs)."""

    system: bool
    tools: bool
    stream_tools: bool
    tool_choices: frozenset[str]


_NO_TOOLS: _Capabilities = {
    "system": False,
    "tools": False,
    "stream_tools": False,
    "tool_choices": frozenset(),
}
_AUTO_ONLY: _Capabilities = {"stream_tools": False, "tool_choices": frozenset({"auto"})}

MODELS: dict[str, ModelSpec] = {
    spec.model_id: spec
    for spec in (
        _claude("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2", 8192),
        _claude("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet"),
        _claude("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", 64_000),
        _claude("anthropic.claude-3-opus-20240229-v1:0", "Claude 3 Opus"),
        _claude("anthropic.claude-3-sonnet-20240229-v1:0", "Claude 3 Sonnet"),
        _claude("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
        _claude("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4", 64_000),
        _claude("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", 64_000),
        _claude("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5", 64_000),
        _claude("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5", 64_000),
        _claude("anthropic.claude-sonnet-4-6", "Claude Sonnet 4.6", 128_000, 1_000_000),
        _claude("anthropic.claude-opus-4-6-v1", "Claude Opus 4.6", 128_000, 1_000_000),
        _claude("anthropic.claude-opus-4-7", "Claude Opus 4.7", 128_000, 1_000_000),
        _nova("amazon.nova-micro-v1:0", "Nova Micro", 128_000, 10_000, images=False),
        _nova("amazon.nova-lite-v1:0", "Nova Lite", 300_000, 10_000),
        _nova("amazon.nova-pro-v1:0", "Nova Pro", 300_000, 10_000),
        _nova("amazon.nova-2-lite-v1:0", "Nova 2 Lite", 1_000_000, 64_000),
        _gpt_oss("openai.gpt-oss-120b-1:0", "gpt-oss-120b"),
        _gpt_oss("openai.gpt-oss-20b-1:0", "gpt-oss-20b"),
        ModelSpec(
            "amazon.titan-text-express-v1",
            "Titan Text G1 - Express",
            "Amazon",
            "titan-text",
            8192,
            8192,
            **_NO_TOOLS,
        ),
        ModelSpec(
            "amazon.titan-text-lite-v1",
            "Titan Text G1 - Lite",
            "Amazon",
            "titan-text",
            4096,
            4096,
            **_NO_TOOLS,
        ),
        ModelSpec(
            "amazon.titan-embed-text-v1",
            "Titan Embeddings G1 - Text",
            "Amazon",
            "titan-embed",
            8192,
            0,
            **_NO_TOOLS,
            embedding_dimensions=(1536,),
        ),
        ModelSpec(
            "amazon.titan-embed-text-v2:0",
            "Titan Text Embeddings V2",
            "Amazon",
            "titan-embed",
            8192,
            0,
            **_NO_TOOLS,
            embedding_dimensions=(1024, 512, 256),
        ),
        ModelSpec(
            "cohere.embed-english-v3",
            "Embed English",
            "Cohere",
            "cohere-embed",
            512,
            0,
            **_NO_TOOLS,
            embedding_dimensions=(1024,),
        ),
        ModelSpec(
            "cohere.embed-multilingual-v3",
            "Embed Multilingual",
            "Cohere",
            "cohere-embed",
            512,
            0,
            **_NO_TOOLS,
            embedding_dimensions=(1024,),
        ),
        ModelSpec(
            "cohere.embed-v4:0",
            "Embed v4",
            "Cohere",
            "cohere-embed",
            128_000,
            0,
            **_NO_TOOLS,
            embedding_dimensions=(1536, 1024, 512, 256),
            input_modalities=("TEXT", "IMAGE"),
        ),
        ModelSpec(
            "meta.llama3-1-70b-instruct-v1:0",
            "Llama 3.1 70B Instruct",
            "Meta",
            "llama",
            128_000,
            2048,
            **_AUTO_ONLY,
        ),
        ModelSpec(
            "meta.llama3-1-8b-instruct-v1:0",
            "Llama 3.1 8B Instruct",
            "Meta",
            "llama",
            128_000,
            2048,
            **_AUTO_ONLY,
        ),
        ModelSpec(
            "meta.llama3-2-1b-instruct-v1:0",
            "Llama 3.2 1B Instruct",
            "Meta",
            "llama",
            128_000,
            2048,
            **_AUTO_ONLY,
        ),
        ModelSpec(
            "meta.llama3-2-3b-instruct-v1:0",
            "Llama 3.2 3B Instruct",
            "Meta",
            "llama",
            128_000,
            2048,
            **_AUTO_ONLY,
        ),
        ModelSpec(
            "mistral.mistral-large-2402-v1:0",
            "Mistral Large (24.02)",
            "Mistral AI",
            "mistral",
            32_000,
            8192,
            # AWS: toolChoice `any` works on Claude 3 and Mistral Large; a named `tool` only on Claude 3
            stream_tools=False,
            tool_choices=frozenset({"auto", "any"}),
        ),
        ModelSpec(
            "mistral.pixtral-large-2502-v1:0",
            "Pixtral Large (25.02)",
            "Mistral AI",
            "mistral",
            128_000,
            16_384,
            stream_tools=False,
            tool_choices=frozenset({"auto", "any"}),
            images=True,
            input_modalities=("TEXT", "IMAGE"),
        ),
        _mistral_3("mistral.mistral-large-3-675b-instruct", "Mistral Large 3", 256_000, 8192, images=True),
        _mistral_3("mistral.magistral-small-2509", "Magistral Small 2509", 128_000, 40_000, images=True),
        _mistral_3("mistral.ministral-3-3b-instruct", "Ministral 3B", 256_000, 8192, images=True),
        _mistral_3("mistral.ministral-3-8b-instruct", "Ministral 3 8B", 128_000, 4096),
        _mistral_3("mistral.ministral-3-14b-instruct", "Ministral 14B 3.0", 128_000, 4096),
        ModelSpec(
            "mistral.mixtral-8x7b-instruct-v0:1",
            "Mixtral 8x7B Instruct",
            "Mistral AI",
            "mistral",
            32_000,
            4096,
            **_NO_TOOLS,
        ),
        ModelSpec(
            "mistral.mistral-7b-instruct-v0:2",
            "Mistral 7B Instruct",
            "Mistral AI",
            "mistral",
            8192,
            8192,
            **_NO_TOOLS,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class InferenceProfile:
    """A system-defined cross-region inference profile (id = geography prefix + model id)."""

    profile_id: str
    model_id: str
    name: str
    regions: tuple[str, ...]  # source regions, which are also the destinations it routes to


PROFILES: dict[str, InferenceProfile] = {
    spec.availability.profile_id(geography): InferenceProfile(
        spec.availability.profile_id(geography), spec.model_id, f"{geography.upper()} {spec.name}", regions
    )
    for spec in MODELS.values()
    for geography, regions in spec.availability.profiles.items()
}


@dataclass(frozen=True, slots=True)
class ApplicationProfile:
    """An application inference profile an account made from a system-defined profile or a model."""

    profile_id: str  # the last part of its ARN (AWS makes 12 random characters; these are readable)
    copies: str  # the system-defined profile id or foundation model id it was created from
    name: str


APPLICATION_PROFILES: dict[str, ApplicationProfile] = {
    profile.profile_id: profile
    for profile in (
        ApplicationProfile("teamsonnet45eu", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "team-a-sonnet"),
        ApplicationProfile("teamhaiku45gl", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "team-b"),
        ApplicationProfile("teamnovaprodev", "eu.amazon.nova-pro-v1:0", "team-c-nova"),
    )
}


def application_profile_arn(profile_id: str, region: str) -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:application-inference-profile/{profile_id}"


def models_in(region: str) -> list[ModelSpec]:
    """The foundation models ListFoundationModels shows in `region`."""
    return [spec for spec in MODELS.values() if spec.offered_in(region)]


def profiles_in(region: str) -> list[InferenceProfile]:
    """The system-defined profiles ListInferenceProfiles shows in `region`: those it may call."""
    return [profile for profile in PROFILES.values() if region in profile.regions]


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a request's model id names: the model, and whether it came through an inference profile."""

    spec: ModelSpec
    via_profile: bool


def foundation_model_arn(model_id: str, region: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def profile_arn(profile_id: str, region: str) -> str:
    return f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{profile_id}"


def resolve(model_id: str, region: str) -> Resolved | None:
    """Model id, profile id or either's ARN -> the model; None when Bedrock in `region` would not know it."""
    if model_id.startswith("arn:"):
        _, _, resource = model_id.partition("/")
        if ":application-inference-profile/" in model_id:
            application = APPLICATION_PROFILES.get(resource)
            if application is None:
                return None
            inner = resolve(application.copies, region)
            return None if inner is None else Resolved(inner.spec, True)
        if ":foundation-model/" in model_id or ":inference-profile/" in model_id:
            model_id = resource
        else:
            return None
    spec = MODELS.get(model_id)
    if spec is not None:
        return Resolved(spec, False) if spec.offered_in(region) else None
    profile = PROFILES.get(model_id)
    if profile is not None and region in profile.regions:
        return Resolved(MODELS[profile.model_id], True)
    return None
