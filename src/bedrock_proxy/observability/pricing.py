"""Bedrock prices, so every CallRecord carries a cost without asking anyone at request time: one table,
a source on every row.

Prices are USD per token (the AWS page quotes per 1,000 or per 1,000,000 tokens). Cross-region inference
profiles (`eu.`, `us.`, `apac.`, `jp.`, `au.` prefixes) cost what on-demand costs in the *source* region,
the one the request was sent to (AWS: "the price is calculated basis the region you made the request in").
From Claude Sonnet 4.5 / Haiku 4.5 on, in-Region and geo (`eu.`) calls carry a 10% premium over `global.`
profiles (Anthropic, "Claude on Amazon Bedrock": global vs regional endpoints), so such rows carry a
`global_price` 1/1.1 of the regional one. Prompt caching: reads, 5-minute writes and 1-hour writes each have
their price (Anthropic's pricing table: 0.1x, 1.25x and 2x input; Amazon Nova: reads at 0.25x input, writes
at the input price). An application inference profile (an ARN) is priced as the model it wraps, once the
gateway has asked GetInferenceProfile (`price_profile_as`). A deployment's `input_cost_per_token` /
`output_cost_per_token` override the table.

Batch inference (a job of many prompts read from S3, answered within a day) costs 50% of on-demand
(AWS user guide, "Capacity, Limits, and Cost Optimization": "Batch - 50% cost savings vs on-demand"; the
2026 pricing page says "50% lower price", where its 2023 version still priced batch as on-demand), and
only for the models AWS lists in "Supported Regions and models for batch inference": the `batch` column
says which (`BATCH_SHARE` of the on-demand input and output price, `batch_price_for`). The gateway itself
serves on-demand calls; the batch column is what /model/info reports (LiteLLM's
`input_cost_per_token_batches` / `output_cost_per_token_batches`) so a team can compare.

Where the table is unsure it says so in `note`. Nothing here was re-read from AWS on `as_of` (this machine
has no internet access): `as_of` is when the figure was recorded here, `source` where it comes from. Check
https://aws.amazon.com/bedrock/pricing/ before relying on a flagged entry, or override it in config.yaml.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bedrock_proxy.bedrock.capabilities import base_model_id, profile_geography
from bedrock_proxy.observability.record import Usage

AWS_PAGE = "https://aws.amazon.com/bedrock/pricing/"
ANTHROPIC_ON_BEDROCK = (
    AWS_PAGE + "; Anthropic's pricing table and 'Claude on Amazon Bedrock' (regional = global + 10%)"
)
# Regional figures (and EU profile prices) were cross-checked against the public LiteLLM price map
# (model_prices_and_context_window.json), which itself transcribes the AWS page.
AWS_AND_LITELLM = (
    AWS_PAGE + " (regional figures cross-checked with LiteLLM's model_prices_and_context_window.json)"
)
RECORDED = "2026-11-27"

_M = 1e-6  # prices below are written per million tokens, as the AWS page now shows them


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token. Cache prices are None for models without prompt caching on Bedrock; `cache_write`
    is the 5-minute write, `cache_write_1h` the 1-hour one (None where the model has no 1-hour TTL)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None


def per_million(
    input: float,
    output: float,
    cache_read: float | None = None,
    cache_write: float | None = None,
    cache_write_1h: float | None = None,
) -> Price:
    def scaled(value: float | None) -> float | None:
        return None if value is None else value * _M

    return Price(input * _M, output * _M, scaled(cache_read), scaled(cache_write), scaled(cache_write_1h))


def _nova(input: float, output: float) -> Price:
    # Amazon Nova prompt caching on Bedrock: cache reads at 0.25x input ("75% less" on the AWS pricing page;
    # LiteLLM's map has the same figures), writes at the input price (no write surcharge; UNVERIFIED: the
    # stored AWS pages state the read discount but not the write price), no 1-hour TTL
    return per_million(input, output, input * 0.25, input)


def _claude(input: float, output: float, *, one_hour: bool = True) -> Price:
    # Anthropic prompt caching on Bedrock: reads at 0.1x input, 5-minute writes at 1.25x, 1-hour at 2x
    return per_million(input, output, input * 0.1, input * 1.25, input * 2.0 if one_hour else None)


GLOBAL_DISCOUNT = 1 / 1.1  # a global. profile's price, as a share of the regional (and geo) price


def _claude_regional(global_input: float, global_output: float) -> tuple[Price, Price]:
    """(regional and geo price, global price) of a Claude model from Sonnet 4.5 / Haiku 4.5 on."""
    return _claude(global_input * 1.1, global_output * 1.1), _claude(global_input, global_output)


@dataclass(frozen=True, slots=True)
class PriceEntry:
    price: Price  # on-demand price in every region not listed in `regions`
    source: str
    as_of: str
    regions: Mapping[str, Price] = field(default_factory=dict)  # exact region, or a prefix such as "eu-*"
    global_price: Price | None = None  # price of the `global.` profile when it differs
    note: str = ""  # uncertainty, said plainly
    batch: bool = False  # Bedrock batch inference serves this model, at BATCH_SHARE of on-demand

    def for_region(self, region: str, *, global_profile: bool = False) -> Price:
        if global_profile and self.global_price is not None:
            return self.global_price
        exact = self.regions.get(region)
        if exact is not None:
            return exact
        for key, price in self.regions.items():
            if key.endswith("*") and region.startswith(key[:-1]):
                return price
        return self.price


def _entry(
    price: Price,
    *,
    source: str = AWS_PAGE,
    note: str = "",
    regions: Mapping[str, Price] | None = None,
    global_price: Price | None = None,
    batch: bool = False,
) -> PriceEntry:
    return PriceEntry(
        price=price,
        source=source,
        as_of=RECORDED,
        note=note,
        regions={} if regions is None else regions,
        global_price=global_price,
        batch=batch,
    )


_MISTRAL_3_SOURCE = (
    AWS_PAGE + " (us-east-1 figures of a public Bedrock model registry, bedrock-converse-stream entries)"
)
_REGISTRY_NOTE = "UNVERIFIED: a public Bedrock model registry's us-east-1 figure, not read on AWS's page"
_EU_NOVA_NOTE = "EU figures from LiteLLM's map for the eu. profiles; not re-read from AWS"


def _newest_claude(global_input: float, global_output: float, source: str) -> PriceEntry:
    regional, global_price = _claude_regional(global_input, global_output)
    return _entry(regional, global_price=global_price, source=source, batch=True)


PRICING: Mapping[str, PriceEntry] = MappingProxyType(
    {
        # --- Anthropic Claude (seed models first). Same price in the US and EU regions for 3.x / 4.0.
        # Batch: Claude is what AWS's batch inference examples run (InvokeModel bodies in the job's JSONL);
        # the stored copy of AWS's batch model table stops before the Anthropic rows, so which Claude
        # versions AWS batches is UNVERIFIED per model (all are marked, as AWS lists Claude for batch).
        "anthropic.claude-3-5-sonnet-20241022-v2:0": _entry(
            _claude(3.0, 15.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-3-5-sonnet-20240620-v1:0": _entry(
            _claude(3.0, 15.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-3-opus-20240229-v1:0": _entry(
            _claude(15.0, 75.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-3-sonnet-20240229-v1:0": _entry(
            _claude(3.0, 15.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-3-haiku-20240307-v1:0": _entry(
            _claude(0.25, 1.25), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-3-5-haiku-20241022-v1:0": _entry(
            _claude(0.8, 4.0),
            batch=True,
            note="LiteLLM's map prices the eu. profile at the Claude 3 Haiku rate (0.25/1.25); we keep the "
            "AWS model price, which LiteLLM understates",
        ),
        "anthropic.claude-3-7-sonnet-20250219-v1:0": _entry(
            _claude(3.0, 15.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-sonnet-4-20250514-v1:0": _entry(
            _claude(3.0, 15.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-opus-4-20250514-v1:0": _entry(
            _claude(15.0, 75.0), source=AWS_AND_LITELLM, batch=True
        ),
        "anthropic.claude-opus-4-1-20250805-v1:0": _entry(
            _claude(15.0, 75.0), source=AWS_AND_LITELLM, batch=True
        ),
        # From the 4.5 generation on, regional endpoints and geo profiles cost 10% more than `global.`.
        "anthropic.claude-sonnet-4-5-20250929-v1:0": _newest_claude(3.0, 15.0, AWS_AND_LITELLM),
        "anthropic.claude-haiku-4-5-20251001-v1:0": _newest_claude(1.0, 5.0, AWS_AND_LITELLM),
        "anthropic.claude-opus-4-5-20251101-v1:0": _newest_claude(5.0, 25.0, ANTHROPIC_ON_BEDROCK),
        "anthropic.claude-sonnet-4-6": _newest_claude(3.0, 15.0, ANTHROPIC_ON_BEDROCK),
        "anthropic.claude-opus-4-6-v1": _newest_claude(5.0, 25.0, ANTHROPIC_ON_BEDROCK),
        "anthropic.claude-opus-4-7": _newest_claude(5.0, 25.0, ANTHROPIC_ON_BEDROCK),
        # --- Amazon Titan / Nova
        "amazon.titan-text-express-v1": _entry(
            per_million(0.2, 0.6), note="US price; EU regions may differ (not verified)"
        ),
        "amazon.titan-text-lite-v1": _entry(
            per_million(0.15, 0.2), note="US price; EU regions may differ (not verified)"
        ),
        "amazon.titan-embed-text-v1": _entry(per_million(0.1, 0.0), source=AWS_AND_LITELLM),
        "amazon.titan-embed-text-v2:0": _entry(
            per_million(0.02, 0.0), source=AWS_AND_LITELLM, batch=True
        ),  # batch: AWS's batch table lists Titan Text Embeddings V2
        # Nova: batch inference confirmed by AWS's batch table (Nova Micro, Lite, Pro: in-Region and profiles)
        "amazon.nova-micro-v1:0": _entry(
            _nova(0.035, 0.14), regions={"eu-*": _nova(0.046, 0.184)}, note=_EU_NOVA_NOTE, batch=True
        ),
        "amazon.nova-lite-v1:0": _entry(
            _nova(0.06, 0.24), regions={"eu-*": _nova(0.078, 0.312)}, note=_EU_NOVA_NOTE, batch=True
        ),
        "amazon.nova-pro-v1:0": _entry(
            _nova(0.8, 3.2), regions={"eu-*": _nova(1.05, 4.2)}, note=_EU_NOVA_NOTE, batch=True
        ),
        "amazon.nova-2-lite-v1:0": _entry(
            _nova(0.33, 2.75),
            global_price=_nova(0.30, 2.50),
            source=AWS_PAGE + " (0.30/2.50 global; 0.33/2.75 geo: the AWS Price List API, us-east-1, read"
            " 2026-09-01 as transcribed by api-evangelist/amazon-nova, and Vercel's AI Gateway)",
            note="geo price 0.33/2.75 confirmed by AWS's price list (us-east-1); the EU geo price is assumed"
            " the same (UNVERIFIED); batch not in the stored part of AWS's batch table",
        ),
        # --- OpenAI open-weight models (in-Region in eu-west-1)
        "openai.gpt-oss-120b-1:0": _entry(
            per_million(0.15, 0.6), note="AWS launch price (US regions); the eu-west-1 price is UNVERIFIED"
        ),
        "openai.gpt-oss-20b-1:0": _entry(
            per_million(0.07, 0.3), note="AWS launch price (US regions); the eu-west-1 price is UNVERIFIED"
        ),
        # --- Meta Llama: the EU regions that host Llama 3 charge more.
        "meta.llama3-8b-instruct-v1:0": _entry(
            per_million(0.3, 0.6),
            regions={"eu-west-1": per_million(0.32, 0.65), "eu-west-2": per_million(0.39, 0.78)},
            source=AWS_AND_LITELLM,
        ),
        "meta.llama3-70b-instruct-v1:0": _entry(
            per_million(2.65, 3.5),
            regions={"eu-west-1": per_million(2.86, 3.78), "eu-west-2": per_million(3.45, 4.55)},
            source=AWS_AND_LITELLM,
        ),
        "meta.llama3-1-8b-instruct-v1:0": _entry(per_million(0.22, 0.22), source=AWS_AND_LITELLM),
        "meta.llama3-1-70b-instruct-v1:0": _entry(
            per_million(0.72, 0.72),
            note="AWS lowered this from 0.99/0.99 (LiteLLM's map still shows 0.99); 0.72 not re-verified",
        ),
        "meta.llama3-3-70b-instruct-v1:0": _entry(per_million(0.72, 0.72)),
        # Llama 3.2 in the EU only through its eu. profile (sources eu-central-1, eu-west-1, eu-west-3),
        # which costs more than the US on-demand price.
        "meta.llama3-2-1b-instruct-v1:0": _entry(
            per_million(0.1, 0.1),
            regions={"eu-*": per_million(0.13, 0.13)},
            source=AWS_AND_LITELLM,
            note="EU figure from LiteLLM's map (eu. profile), not re-verified on the AWS page",
        ),
        "meta.llama3-2-3b-instruct-v1:0": _entry(
            per_million(0.15, 0.15),
            regions={"eu-*": per_million(0.19, 0.19)},
            source=AWS_AND_LITELLM,
            note="EU figure from LiteLLM's map (eu. profile), not re-verified on the AWS page",
        ),
        "meta.llama3-2-11b-instruct-v1:0": _entry(per_million(0.16, 0.16), source=AWS_AND_LITELLM),
        "meta.llama3-2-90b-instruct-v1:0": _entry(per_million(0.72, 0.72), source=AWS_AND_LITELLM),
        # --- Mistral: Paris (eu-west-3) charges more.
        "mistral.mistral-7b-instruct-v0:2": _entry(
            per_million(0.15, 0.2), regions={"eu-west-3": per_million(0.2, 0.26)}, source=AWS_AND_LITELLM
        ),
        "mistral.mixtral-8x7b-instruct-v0:1": _entry(
            per_million(0.45, 0.7), regions={"eu-west-3": per_million(0.59, 0.91)}, source=AWS_AND_LITELLM
        ),
        "mistral.mistral-large-2402-v1:0": _entry(
            per_million(4.0, 12.0),
            regions={"eu-west-3": per_million(10.4, 31.2)},
            source=AWS_AND_LITELLM,
            note="UNSURE: the AWS page shows 4/12 in the US, LiteLLM's map 8/24 (launch price); "
            "the eu-west-3 figure 10.4/31.2 is 1.3x the launch price and may be outdated. "
            "Override if it matters.",
        ),
        "mistral.mistral-small-2402-v1:0": _entry(per_million(1.0, 3.0), note="not re-verified"),
        "mistral.pixtral-large-2502-v1:0": _entry(
            per_million(2.0, 6.0),
            source=AWS_PAGE + " (Mistral's own list price for Pixtral Large is the same 2/6)",
            note="EU profile price UNVERIFIED (same as US assumed)",
        ),
        # --- Mistral's December 2025 line-up (Mistral 3): in-Region ids, no profiles. Mistral Large 3,
        # Magistral Small and Ministral 3B are not offered in any EU region (AWS "Model support by AWS
        # Region", read 2026-02); Ministral 3 8B and 14B are served in eu-west-1, eu-west-2, eu-south-1.
        "mistral.mistral-large-3-675b-instruct": _entry(
            per_million(0.5, 1.5),
            source=AWS_PAGE + " (us-east-1 in-Region 0.50/1.50 from the AWS Price List, as transcribed with"
            " its SKUs in a public model table; Mistral's own list price for Large 3 is the same)",
        ),
        "mistral.magistral-small-2509": _entry(
            per_million(0.5, 1.5),
            source=_MISTRAL_3_SOURCE,
            note=_REGISTRY_NOTE,
        ),
        "mistral.ministral-3-3b-instruct": _entry(
            per_million(0.1, 0.1),
            source=_MISTRAL_3_SOURCE,
            note=_REGISTRY_NOTE,
        ),
        "mistral.ministral-3-8b-instruct": _entry(
            per_million(0.15, 0.15),
            source=_MISTRAL_3_SOURCE,
            note=_REGISTRY_NOTE + "; the eu-west-1 price is assumed the same",
        ),
        "mistral.ministral-3-14b-instruct": _entry(
            per_million(0.2, 0.2),
            source=_MISTRAL_3_SOURCE,
            note=_REGISTRY_NOTE + "; the eu-west-1 price is assumed the same",
        ),
        # --- Cohere embeddings
        "cohere.embed-english-v3": _entry(per_million(0.1, 0.0), source=AWS_AND_LITELLM),
        "cohere.embed-multilingual-v3": _entry(per_million(0.1, 0.0), source=AWS_AND_LITELLM),
        "cohere.embed-v4:0": _entry(
            per_million(0.12, 0.0),
            source=AWS_PAGE + " (text tokens; images are priced per image, not modelled here)",
        ),
    }
)

_ROUTE_PREFIXES = ("bedrock/", "converse/", "invoke/")


def model_id_parts(model_id: str) -> tuple[str, str | None, bool]:
    """(base model id, region named in an ARN, whether it is a `global.` profile)."""
    mid = model_id.strip()
    arn_region = None
    if mid.startswith("arn:"):
        parts = mid.split(":", 5)  # arn:partition:bedrock:region:account:resource-type/id
        if len(parts) == 6:
            arn_region = parts[3] or None
            mid = parts[5].split("/", 1)[-1]
    for prefix in _ROUTE_PREFIXES:
        if mid.startswith(prefix):
            mid = mid[len(prefix) :]
    return base_model_id(mid), arn_region, profile_geography(mid) == "global"


# application inference profile ARN -> the model (or system profile) id it wraps, learnt from
# GetInferenceProfile once per process (bedrock.app_profiles); read by price_for
_WRAPPED: dict[str, str] = {}


def price_profile_as(profile_arn: str, wrapped_id: str) -> None:
    """Price calls to an application inference profile as calls to the model id it wraps."""
    _WRAPPED[profile_arn.strip()] = wrapped_id
    price_for.cache_clear()
    batch_price_for.cache_clear()


def wrapped_model(profile_arn: str) -> str | None:
    """The id an application inference profile was learnt to wrap, or None."""
    return _WRAPPED.get(profile_arn.strip())


@functools.lru_cache(maxsize=1024)
def price_for(model_id: str, region: str) -> Price | None:
    """The price of a model id (base id, profile id or ARN) called in a region, or None if unknown."""
    model_id = _WRAPPED.get(model_id.strip(), model_id)
    base, arn_region, is_global = model_id_parts(model_id)
    entry = PRICING.get(base)
    if entry is None:
        return None
    return entry.for_region(region or arn_region or "", global_profile=is_global)


BATCH_SHARE = 0.5  # a batch inference job's price, as a share of the on-demand input and output price


@functools.lru_cache(maxsize=1024)
def batch_price_for(model_id: str, region: str) -> Price | None:
    """The batch inference price of a model (input and output only: batch jobs have no prompt caching), or
    None where Bedrock runs no batch jobs for it (or the table does not know the model)."""
    model_id = _WRAPPED.get(model_id.strip(), model_id)
    base, arn_region, is_global = model_id_parts(model_id)
    entry = PRICING.get(base)
    if entry is None or not entry.batch:
        return None
    price = entry.for_region(region or arn_region or "", global_profile=is_global)
    return Price(price.input * BATCH_SHARE, price.output * BATCH_SHARE)


def is_priced(
    model_id: str,
    region: str,
    input_cost_per_token: float | None = None,
    output_cost_per_token: float | None = None,
    *,
    embedding: bool = False,
) -> bool:
    """Whether every token of a call can be priced: by the table, or by the deployment's overrides (both of
    them for a chat model; embeddings have only input tokens). A budget must never meet a free model."""
    if price_for(model_id, region) is not None:
        return True
    return input_cost_per_token is not None and (embedding or output_cost_per_token is not None)


def cost_for(
    model_id: str,
    region: str,
    usage: Usage,
    input_cost_per_token: float | None = None,
    output_cost_per_token: float | None = None,
) -> tuple[float, float] | None:
    """(input cost, output cost) in USD; None when the model is unknown and there is no override.

    `usage.prompt_tokens` counts every input token, cached ones included (the OpenAI convention), so
    cache reads and writes are billed at their own rates and subtracted from the plain input count.
    An override prices every input token at the override (no cache discount): it is the deployment's
    own contract price. Embeddings have no output tokens, so they are priced on input only.
    """
    price = price_for(model_id, region)
    if price is None and input_cost_per_token is None and output_cost_per_token is None:
        return None
    if input_cost_per_token is not None:
        input_cost = usage.prompt_tokens * input_cost_per_token
    elif price is None:
        input_cost = 0.0
    else:
        input_cost = _input_cost(price, usage)
    if output_cost_per_token is not None:
        output_cost = usage.completion_tokens * output_cost_per_token
    elif price is None:
        output_cost = 0.0
    else:
        output_cost = usage.completion_tokens * price.output
    return input_cost, output_cost


def _input_cost(price: Price, usage: Usage) -> float:
    """Plain input tokens at the input price, cache reads and writes (5-minute, 1-hour) at theirs.

    A 1-hour write is priced as one when the usage says how many of the writes were 1-hour ones
    (`cache_write_1h_tokens`, when a Usage carries it) and the model has a 1-hour price; otherwise every
    write is a 5-minute one, Bedrock's default TTL."""
    read = usage.cache_read_tokens if price.cache_read is not None else 0
    written = usage.cache_write_tokens if price.cache_write is not None else 0
    one_hour = min(getattr(usage, "cache_write_1h_tokens", 0), written)
    one_hour = one_hour if price.cache_write_1h is not None else 0
    cost = max(usage.prompt_tokens - read - written, 0) * price.input
    if read and price.cache_read is not None:
        cost += read * price.cache_read
    if written and price.cache_write is not None:
        cost += (written - one_hour) * price.cache_write
    if one_hour and price.cache_write_1h is not None:
        cost += one_hour * price.cache_write_1h
    return cost


def model_info_costs(model_id: str, region: str) -> dict[str, float]:
    """A model's prices under the names LiteLLM's /model/info uses (USD per token): on-demand input and
    output, cache read and 5-minute / 1-hour writes where the model caches, and the batch prices only where
    Bedrock runs batch jobs for it. Empty when the table does not know the model."""
    price = price_for(model_id, region)
    if price is None:
        return {}
    costs = {"input_cost_per_token": price.input, "output_cost_per_token": price.output}
    optional = (
        ("cache_read_input_token_cost", price.cache_read),
        ("cache_creation_input_token_cost", price.cache_write),
        ("cache_creation_input_token_cost_above_1hr", price.cache_write_1h),
    )
    costs.update({name: value for name, value in optional if value is not None})
    batch = batch_price_for(model_id, region)
    if batch is not None:
        costs["input_cost_per_token_batches"] = batch.input
        costs["output_cost_per_token_batches"] = batch.output
    return costs
