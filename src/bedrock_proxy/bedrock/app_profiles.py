"""Application inference profiles: which model each one wraps, asked once of the control plane.

An application inference profile is an ARN an account creates (to tag costs per team or project); its id
says nothing about the model behind it, so its calls could not be priced. At start-up the gateway asks
GetInferenceProfile once for each such ARN in its config and prices it as the model it wraps from then on.
A profile copied from a `global.` profile routes to regions of several geographies, so it is priced as
that global profile; one copied from a geo profile or a model, as that model in the deployment's region.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import botocore.session
from botocore.config import Config as BotoConfig

from bedrock_proxy.bedrock.availability import geography_of

log = logging.getLogger(__name__)
APPLICATION_MARK = ":application-inference-profile/"


class ProfileDeployment(Protocol):
    """What this module reads of a config Deployment."""

    @property
    def model_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def endpoint(self) -> str | None: ...
    @property
    def aws_access_key_id(self) -> str | None: ...
    @property
    def aws_secret_access_key(self) -> str | None: ...
    @property
    def aws_session_token(self) -> str | None: ...
    @property
    def aws_profile_name(self) -> str | None: ...
    @property
    def input_cost_per_token(self) -> float | None: ...


def is_application_profile(model_id: str) -> bool:
    return model_id.startswith("arn:") and APPLICATION_MARK in model_id


def wrapped_id(summary: Mapping[str, Any]) -> str | None:
    """The id to price a GetInferenceProfile answer as: `global.<model>` when its models span several
    geographies, else the model id; None when it names no model, or more than one."""
    arns = [str(model.get("modelArn", "")) for model in summary.get("models") or []]
    model_ids = {arn.rsplit("/", 1)[-1] for arn in arns if ":foundation-model/" in arn}
    if len(model_ids) != 1:
        return None
    [model_id] = model_ids
    geographies = {geography_of(arn.split(":")[3]) for arn in arns if arn.count(":") >= 5}
    return f"global.{model_id}" if len(geographies) > 1 else model_id


def _client(deployment: ProfileDeployment, environ: Mapping[str, str]) -> Any:
    """A botocore `bedrock` (control plane) client with the deployment's credentials. The endpoint:
    AWS_BEDROCK_ENDPOINT, else the deployment's own (an emulator serves both planes), else AWS's."""
    keys: dict[str, str] = {}
    if deployment.aws_access_key_id and deployment.aws_secret_access_key:
        keys = {
            "aws_access_key_id": deployment.aws_access_key_id,
            "aws_secret_access_key": deployment.aws_secret_access_key,
        }
        if deployment.aws_session_token:
            keys["aws_session_token"] = deployment.aws_session_token
    session = botocore.session.Session(profile=deployment.aws_profile_name)
    config = BotoConfig(connect_timeout=3, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"})
    endpoint = environ.get("AWS_BEDROCK_ENDPOINT") or deployment.endpoint or None
    return session.create_client(
        "bedrock", region_name=deployment.region, endpoint_url=endpoint, config=config, **keys
    )


def learn_application_profiles(
    deployments: Iterable[ProfileDeployment], environ: Mapping[str, str]
) -> dict[str, str]:
    """ARN -> wrapped id for every application profile the config calls without its own price override.

    One GetInferenceProfile per ARN; a failure is logged (its calls then report no cost) and never stops
    the gateway from starting."""
    learnt: dict[str, str] = {}
    for deployment in deployments:
        arn = deployment.model_id
        if not is_application_profile(arn) or arn in learnt or deployment.input_cost_per_token is not None:
            continue
        try:
            summary = _client(deployment, environ).get_inference_profile(inferenceProfileIdentifier=arn)
        except Exception as exc:  # any failure (denied, unreachable, unknown) only costs the price
            log.warning("cost of %s unknown: GetInferenceProfile failed (%s)", arn, exc)
            continue
        wrapped = wrapped_id(summary)
        if wrapped is None:
            log.warning("cost of %s unknown: GetInferenceProfile names no single model", arn)
            continue
        learnt[arn] = wrapped
    return learnt
