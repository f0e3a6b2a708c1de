"""A deployment as the router sees it: its counter keys (limits, routing statistics), its weight and price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import DeploymentState, Usage

# the request cost-based-routing compares deployments on: 1,000 tokens in, 1,000 out
if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment

_PRICING_SAMPLE = Usage(prompt_tokens=1000, completion_tokens=1000)


@dataclass(slots=True, eq=False)
class Tracked:
    deployment: Deployment
    group: str
    weight: float = 1.0  # simple-shuffle share
    price: float = float("inf")  # USD for _PRICING_SAMPLE; inf when unknown (chosen last)
    state: DeploymentState = DeploymentState.HEALTHY  # what the on_state_change listeners last heard
    counts_rpm: bool = False  # count its requests per minute (it has an rpm limit, or the strategy reads it)
    counts_tokens: bool = False  # count its tokens per minute (a tpm limit, or the strategy reads it)
    counts_in_flight: bool = False  # hold a slot per attempt (max_parallel_requests, or least-busy reads it)
    cooling_until: float = 0.0  # monotonic end of a cooldown this process learned of (for health pages)
    in_flight_key: str = ""
    rpm_key: str = ""
    tpm_key: str = ""
    fails_key: str = ""
    cooldown_key: str = ""
    latency_key: str = ""  # seconds of the attempts of the last minute (time to first token for streams)
    samples_key: str = ""  # how many attempts those are

    @classmethod
    def of(cls, deployment: Deployment) -> Tracked:
        ident = deployment.deployment_id
        costs = cost_for(
            deployment.model_id,
            deployment.region,
            _PRICING_SAMPLE,
            deployment.input_cost_per_token,
            deployment.output_cost_per_token,
        )
        return cls(
            deployment,
            deployment.model_name,
            price=float("inf") if costs is None else costs[0] + costs[1],
            in_flight_key=f"inflight:{ident}",
            rpm_key=f"rpm:{ident}",
            tpm_key=f"tpm:{ident}",
            fails_key=f"fails:{ident}",
            cooldown_key=f"cooldown:{ident}",
            latency_key=f"latency:{ident}",
            samples_key=f"latency-n:{ident}",
        )


def shuffle_weights(group: list[Tracked]) -> None:
    """simple-shuffle shares: `weight` if any deployment of the group sets one, else rpm, else tpm, else
    equal. A deployment that leaves the chosen field unset gets the average of those that set it."""
    for field_name in ("weight", "rpm", "tpm"):
        values = [getattr(t.deployment, field_name, None) for t in group]
        given = [float(v) for v in values if v]
        if given:
            average = sum(given) / len(given)
            for tracked, value in zip(group, values, strict=True):
                tracked.weight = float(value) if value else average
            return
    for tracked in group:
        tracked.weight = 1.0
