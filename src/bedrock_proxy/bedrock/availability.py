"""Where each model of the seed's tables can be called from: the one table of it.

The emulator's catalogue, doctor's advice, the gateway's error advice and config.yaml's comments all read
this table, so following one of them never leads to an id another (or AWS) refuses. It covers the models
the emulator serves; ids it does not know get no advice from it (Bedrock then has the last word).

Sources (read 2026; AWS moves fast, `bedrock-proxy doctor` asks the account itself):
  [profiles]  AWS user guide, "Supported Regions and models for inference profiles"
              (docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html): the EU
              profiles of the Claude 3 / 3.5 generation are Claude 3 Haiku, Claude 3 Sonnet, Claude 3.5
              Sonnet (20240620) and Claude 3.7 Sonnet; Claude 3.5 Sonnet v2 has US and APAC profiles only,
              Claude 3 Opus a US one only. The same page's example routes us.anthropic.claude-3-haiku from
              us-east-2 to us-east-1, us-east-2 and us-west-2.
  [sharing]   AWS user guide, "Supported Regions and models for model sharing" (share-model-support.html):
              Titan Text Express / Lite served in eu-west-1 and eu-west-3, Claude 3 Haiku in eu-west-1.
  [regions]   AWS user guide, "Model support by AWS Region" (models-regions.html, now "Regional
              availability" per model card), as remembered from its 2024-2025 versions: marked
              UNVERIFIED below where no stored page confirmed the eu-west-1 cell.
  [cards]     AWS model cards (docs.aws.amazon.com/bedrock/latest/userguide/model-card-*.html, read 2026),
              "Programmatic access": the in-Region id, geo (eu./us.) and global inference ids of each model.
  [anthropic] Anthropic, "Claude on Amazon Bedrock" (platform.claude.com, 2026): which Claude models have
              global / us / eu / jp / apac profiles (Opus 4.6, Sonnet 4.6, Sonnet 4.5, Sonnet 4, Opus 4.5,
              Haiku 4.5: global and eu; 3.7 Sonnet: eu, no global).
  [regions-2026] the same AWS page as a stored copy fetched 2026-02-15 (its in-Region and inference
              profile tables), read for this table in 2026-12: it confirms the cells marked so below.
  [lifecycle] AWS "Model lifecycle" and the model cards' "Model lifecycle" line: LEGACY models still answer
              but are being retired; UNVERIFIED where the stored cards did not say so for that model.
A third-party mapping (aws-solutions-library-samples GenAI-IDP, "EU Region Model Support") lists an
eu. profile for Claude 3.5 Sonnet v2; AWS's own profile list does not, and this table follows AWS.
The source regions of the newest profiles (EU_WIDE, GLOBAL) are the commercial regions as AWS lists them
for eu. and global. routing; the exact lists per model are UNVERIFIED (ListInferenceProfiles decides).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bedrock_proxy.bedrock.capabilities import base_model_id, profile_geography

EU = ("eu-central-1", "eu-west-1", "eu-west-3")
EU_WITH_STOCKHOLM = ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3")
US = ("us-east-1", "us-east-2", "us-west-2")
US_TWO = ("us-east-1", "us-west-2")
APAC = ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2")
# the EU source regions of the profiles launched from 2025 on (Claude 4.x, Nova 2, Cohere Embed v4)
EU_WIDE = ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3")
# a global. profile may be called from every commercial region
GLOBAL = (*EU_WIDE, "eu-west-2", *US, "us-west-1", *APAC, "ca-central-1", "sa-east-1")

# Region prefix -> geography prefix of the system-defined profiles callable from it.
_GEOGRAPHY_OF_REGION = {"eu": "eu", "us": "us", "ap": "apac", "ca": "ca"}


@dataclass(frozen=True, slots=True)
class Availability:
    """Where one foundation model is served: on-demand regions, and its cross-region profiles."""

    model_id: str
    on_demand: tuple[str, ...]  # regions that serve the plain model id
    profiles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # geography -> source regions
    eu_substitute: str | None = None  # what config.yaml calls in the EU when the model is not offered there
    source: str = ""
    lifecycle: str = "ACTIVE"  # ACTIVE | LEGACY, as ListFoundationModels' modelLifecycle.status says
    replacement: str | None = None  # the id (callable from eu-west-1) doctor suggests for a LEGACY model

    def profile_id(self, geography: str) -> str:
        return f"{geography}.{self.model_id}"

    def callable_profile(self, region: str) -> str | None:
        """The geo (else global) profile id this region may call, or None."""
        for geography in (geography_of(region), "global"):
            if region in self.profiles.get(geography, ()):
                return self.profile_id(geography)
        return None

    def offered_in(self, region: str) -> bool:
        return region in self.on_demand or self.callable_profile(region) is not None


def _table(*entries: Availability) -> dict[str, Availability]:
    return {entry.model_id: entry for entry in entries}


_SONNET_35 = "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
_SONNET_45 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
_OPUS_45 = "eu.anthropic.claude-opus-4-5-20251101-v1:0"
_NOVA_LITE = "eu.amazon.nova-lite-v1:0"
_NOVA_MICRO = "eu.amazon.nova-micro-v1:0"
_CLAUDE_4 = "[cards] [anthropic]; inference-profile only in every region"
_LLAMA_32_3B = "eu.meta.llama3-2-3b-instruct-v1:0"
_MISTRAL_REGIONS = (
    "us-east-1",
    "us-west-2",
    "ap-south-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
)
_GPT_OSS_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "eu-west-1",
    "eu-west-2",
    "sa-east-1",
)
_MISTRAL_SOURCE = "[regions-2026] eu-west-1, eu-west-2 and eu-west-3 in-Region (confirmed)"
# Mistral 3 (December 2025): in-Region ids only. Large 3, Magistral Small and Ministral 3B are not offered in
# any EU region; Ministral 3 8B and 14B are served in eu-west-1, eu-west-2 and eu-south-1.
_MISTRAL_3_NOT_EU = ("us-east-1", "us-east-2", "us-west-2", "ap-northeast-1", "ap-south-1", "sa-east-1")
_MISTRAL_3_EU = (*_MISTRAL_3_NOT_EU, "eu-south-1", "eu-west-1", "eu-west-2")
_MINISTRAL_8B = "mistral.ministral-3-8b-instruct"
_MISTRAL_3_SOURCE = "[regions-2026] in-Region only, no inference profile"

AVAILABILITY: dict[str, Availability] = _table(
    Availability(
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        on_demand=("us-west-2",),
        profiles={"us": US, "apac": APAC},
        eu_substitute=_SONNET_35,
        source="[profiles] no eu. profile; [regions] on-demand us-west-2 only; APAC source list UNVERIFIED",
        lifecycle="LEGACY",
        replacement=_SONNET_45,
    ),
    Availability(
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-southeast-1",
            "eu-central-1",
        ),
        profiles={"eu": EU, "us": US_TWO, "apac": APAC},
        source="[profiles]; [regions-2026] eu-west-1 and eu-west-3 through the EU profile only (confirmed)",
        lifecycle="LEGACY",
        replacement=_SONNET_45,
    ),
    Availability(
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
        on_demand=(),
        profiles={"eu": EU_WITH_STOCKHOLM, "us": US},
        source="[profiles]; inference-profile only in every region",
    ),
    Availability(
        "anthropic.claude-3-opus-20240229-v1:0",
        on_demand=("us-west-2",),
        profiles={"us": US_TWO},
        eu_substitute=_SONNET_35,
        source="[profiles] US profile only; [regions] on-demand us-west-2 only",
        lifecycle="LEGACY",
        replacement=_OPUS_45,
    ),
    Availability(
        "anthropic.claude-3-sonnet-20240229-v1:0",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-south-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
        ),
        profiles={"eu": EU, "us": US_TWO},
        source="[profiles]; [regions] (legacy model)",
        lifecycle="LEGACY",
        replacement=_SONNET_45,
    ),
    Availability(
        "anthropic.claude-3-haiku-20240307-v1:0",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-northeast-1",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
        ),
        profiles={"eu": EU, "us": US},
        source="[profiles]; [sharing] eu-west-1; [regions]",
    ),
    Availability(
        "amazon.titan-text-express-v1",
        on_demand=("us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "eu-west-1", "eu-west-3"),
        source="[sharing]; [regions-2026] eu-west-1 in-Region (confirmed); [lifecycle] LEGACY UNVERIFIED",
        lifecycle="LEGACY",
        replacement=_NOVA_LITE,
    ),
    Availability(
        "amazon.titan-text-lite-v1",
        on_demand=("us-east-1", "us-west-2", "ap-south-1", "ap-southeast-2", "eu-west-1", "eu-west-3"),
        source="[sharing] (regions listed there); [lifecycle] LEGACY UNVERIFIED; eu-west-1 UNVERIFIED:"
        " [regions-2026] lists Titan Text Lite in ap-south-1 only (being withdrawn; doctor asks the account)",
        lifecycle="LEGACY",
        replacement=_NOVA_MICRO,
    ),
    Availability(
        "amazon.titan-embed-text-v1",
        on_demand=("us-east-1", "us-west-2", "ap-northeast-1", "eu-central-1", "eu-west-1"),
        source="[regions] eu-west-1 UNVERIFIED: [regions-2026] lists Titan Embeddings G1 in eu-central-1"
        " only in the EU (kept: config.yaml's titan-embed-text relies on it; doctor asks the account)",
    ),
    Availability(
        "amazon.titan-embed-text-v2:0",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-south-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
        ),
        source="[regions-2026] eu-west-1 in-Region (confirmed)",
    ),
    Availability(
        "cohere.embed-english-v3",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-northeast-1",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
        ),
        source="[regions-2026] eu-west-1 in-Region (confirmed)",
    ),
    Availability(
        "cohere.embed-multilingual-v3",
        on_demand=(
            "us-east-1",
            "us-west-2",
            "ap-northeast-1",
            "ca-central-1",
            "eu-central-1",
            "eu-west-1",
            "eu-west-3",
        ),
        source="[regions-2026] eu-west-1 in-Region (confirmed)",
    ),
    Availability(
        "meta.llama3-1-70b-instruct-v1:0",
        on_demand=("us-west-2",),
        profiles={"us": US},
        eu_substitute=_LLAMA_32_3B,
        source="[profiles] US profile only; [regions] on-demand us-west-2 only",
    ),
    Availability(
        "meta.llama3-1-8b-instruct-v1:0",
        on_demand=("us-west-2",),
        profiles={"us": US},
        eu_substitute=_LLAMA_32_3B,
        source="[profiles] US profile only; [regions] on-demand us-west-2 only",
    ),
    Availability(
        "meta.llama3-2-1b-instruct-v1:0",
        on_demand=(),
        profiles={"eu": EU, "us": US},
        source="[profiles]; inference-profile only in every region",
    ),
    Availability(
        "meta.llama3-2-3b-instruct-v1:0",
        on_demand=(),
        profiles={"eu": EU, "us": US},
        source="[profiles]; inference-profile only in every region",
    ),
    Availability(
        "mistral.pixtral-large-2502-v1:0",
        on_demand=(),
        profiles={"eu": EU_WITH_STOCKHOLM, "us": US},
        source="[cards] Pixtral Large (25.02): inference-profile only; [regions-2026] EU profile from"
        " eu-central-1, eu-north-1, eu-west-1, eu-west-3 (confirmed)",
    ),
    # --- the 2025-2026 line-up ----------------------------------------------------------------------------
    Availability(
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "jp": ("ap-northeast-1", "ap-northeast-3"), "global": GLOBAL},
        source=_CLAUDE_4,
    ),
    Availability(
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "global": GLOBAL},
        source=_CLAUDE_4,
    ),
    Availability(
        "anthropic.claude-opus-4-5-20251101-v1:0",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "global": GLOBAL},
        source=_CLAUDE_4,
    ),
    Availability(
        "anthropic.claude-sonnet-4-6",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "jp": ("ap-northeast-1", "ap-northeast-3"), "global": GLOBAL},
        source=_CLAUDE_4 + " (no dated id)",
    ),
    Availability(
        "anthropic.claude-opus-4-6-v1",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "apac": APAC, "global": GLOBAL},
        source=_CLAUDE_4,
    ),
    Availability(
        "anthropic.claude-opus-4-7",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "global": GLOBAL},
        source="[cards] Claude Opus 4.7 (adaptive thinking only); eu./global. ids as shared/bedrock-2026.md",
    ),
    Availability(
        "anthropic.claude-sonnet-4-20250514-v1:0",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "apac": APAC, "global": GLOBAL},
        source=_CLAUDE_4 + "; being deprecated (Anthropic release notes), still ACTIVE on Bedrock",
    ),
    Availability(
        "amazon.nova-micro-v1:0",
        on_demand=("us-east-1",),
        profiles={"eu": EU_WITH_STOCKHOLM, "us": US},
        source="[profiles] eu. and us. profiles; [regions-2026] not in-Region in eu-west-1 (confirmed; the"
        " other in-Region cells are not used)",
    ),
    Availability(
        "amazon.nova-lite-v1:0",
        on_demand=("us-east-1",),
        profiles={"eu": EU_WITH_STOCKHOLM, "us": US},
        source="[profiles] eu. and us. profiles; [regions-2026] not in-Region in eu-west-1 (confirmed; the"
        " other in-Region cells are not used)",
    ),
    Availability(
        "amazon.nova-pro-v1:0",
        on_demand=("us-east-1",),
        profiles={"eu": EU_WITH_STOCKHOLM, "us": US},
        source="[profiles] eu. and us. profiles; [regions-2026] not in-Region in eu-west-1 (confirmed; the"
        " other in-Region cells are not used)",
    ),
    Availability(
        "amazon.nova-2-lite-v1:0",
        on_demand=(),
        profiles={"eu": EU_WIDE, "us": US, "global": GLOBAL},
        source="[cards] Nova 2 Lite: cross-Region inference only (no in-Region id)",
    ),
    Availability(
        "openai.gpt-oss-120b-1:0",
        on_demand=_GPT_OSS_REGIONS,
        source="[regions-2026] in-Region, eu-west-1 included (confirmed)",
    ),
    Availability(
        "openai.gpt-oss-20b-1:0",
        on_demand=_GPT_OSS_REGIONS,
        source="[regions-2026] in-Region, eu-west-1 included (confirmed)",
    ),
    Availability(
        "cohere.embed-v4:0",
        on_demand=("us-east-1", "ap-northeast-1", "eu-west-1"),
        profiles={"eu": EU_WIDE, "us": US, "global": GLOBAL},
        source="[cards] Embed v4: in-Region id, eu./us./global. ids; [regions-2026] in-Region in us-east-1,"
        " ap-northeast-1 and eu-west-1",
    ),
    Availability("mistral.mistral-large-2402-v1:0", on_demand=_MISTRAL_REGIONS, source=_MISTRAL_SOURCE),
    Availability("mistral.mixtral-8x7b-instruct-v0:1", on_demand=_MISTRAL_REGIONS, source=_MISTRAL_SOURCE),
    Availability("mistral.mistral-7b-instruct-v0:2", on_demand=_MISTRAL_REGIONS, source=_MISTRAL_SOURCE),
    Availability(
        "mistral.mistral-large-3-675b-instruct",
        on_demand=_MISTRAL_3_NOT_EU,
        source=_MISTRAL_3_SOURCE + "; not in the EU",
    ),
    Availability(
        "mistral.magistral-small-2509",
        on_demand=_MISTRAL_3_NOT_EU,
        source=_MISTRAL_3_SOURCE + "; not in the EU",
    ),
    Availability(
        "mistral.ministral-3-3b-instruct",
        on_demand=_MISTRAL_3_NOT_EU,
        source=_MISTRAL_3_SOURCE + "; not in the EU",
    ),
    Availability(_MINISTRAL_8B, on_demand=_MISTRAL_3_EU, source=_MISTRAL_3_SOURCE + "; eu-west-1 included"),
    Availability(
        "mistral.ministral-3-14b-instruct",
        on_demand=_MISTRAL_3_EU,
        source=_MISTRAL_3_SOURCE + "; eu-west-1 included",
    ),
)


def geography_of(region: str) -> str:
    """`eu` for eu-west-1, `apac` for ap-south-1: the prefix of the geo profiles a region may call."""
    if region.startswith("us-gov-"):
        return "us-gov"
    return _GEOGRAPHY_OF_REGION.get(region.split("-", 1)[0], region.split("-", 1)[0])


def _resource(model_id: str) -> str:
    """`eu.x` for `arn:aws:bedrock:...:inference-profile/eu.x`; the id itself otherwise."""
    model_id = model_id.strip()
    return model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id


def availability_of(model_id: str) -> Availability | None:
    """The table's entry for a plain id, a geo/global profile id or an ARN; None when it is not listed."""
    return AVAILABILITY.get(base_model_id(_resource(model_id)))


def profile_source_regions(profile_id: str) -> tuple[str, ...]:
    """The regions that may call a system-defined profile id; () when no such profile exists."""
    profile_id = _resource(profile_id)
    geography = profile_geography(profile_id)
    entry = availability_of(profile_id)
    if geography is None or entry is None:
        return ()
    return entry.profiles.get(geography, ())


def callable_from(model_id: str, region: str) -> bool | None:
    """Whether Bedrock in `region` serves this id (plain or profile); None when the table does not know it."""
    entry = availability_of(model_id)
    if entry is None:
        return None
    if profile_geography(_resource(model_id)) is not None:
        return region in profile_source_regions(model_id)
    return region in entry.on_demand


def advice_for(model_id: str, region: str) -> str:
    """What to write in config.yaml instead of an id `region` cannot call; "" when the table knows no better.

    Only ids the table lists are suggested, so the advice never names a profile that does not exist.
    """
    entry = availability_of(model_id)
    if entry is None or callable_from(model_id, region):
        return ""
    profile = entry.callable_profile(region)
    if profile is not None:
        geography = profile.partition(".")[0]
        return f"use model: bedrock/{profile} in config.yaml (its {geography}. inference profile)"
    geography = geography_of(region)
    nearby = [r for r in entry.on_demand if geography_of(r) == geography]
    if nearby:
        return f"set aws_region_name to {' or '.join(nearby)}, which serve {entry.model_id} on-demand"
    where = "the EU" if geography == "eu" else region
    text = f"the model {entry.model_id} is not offered in {where} ({_where_offered(entry)})"
    if geography == "eu" and entry.eu_substitute:
        return (
            f"{text}: use model: bedrock/{entry.eu_substitute} instead, the substitute config.yaml ships with"
        )
    return f"{text}: pick a model that aws bedrock list-foundation-models --region {region} lists"


def _where_offered(entry: Availability) -> str:
    parts = [f"on-demand in {', '.join(entry.on_demand)}"] if entry.on_demand else []
    parts += [
        f"{geography}. profile from {', '.join(regions)}" for geography, regions in entry.profiles.items()
    ]
    return "; ".join(parts) or "nowhere"
