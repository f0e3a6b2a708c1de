"""Bedrock control plane: ListFoundationModels (with filters and each model's lifecycle status),
GetFoundationModel, ListInferenceProfiles and GetInferenceProfile (system-defined and application)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from bedrock_proxy.emulator.catalogue import (
    APPLICATION_PROFILES,
    MODELS,
    PROFILES,
    ApplicationProfile,
    ModelSpec,
    application_profile_arn,
    foundation_model_arn,
    models_in,
    profile_arn,
    profiles_in,
)
from bedrock_proxy.emulator.errors import EmulatorError, constraint

_CREATED = "2024-08-20T00:00:00Z"


def model_summary(spec: ModelSpec, region: str) -> dict[str, Any]:
    return {
        "modelArn": foundation_model_arn(spec.model_id, region),
        "modelId": spec.model_id,
        "modelName": spec.name,
        "providerName": spec.provider,
        "inputModalities": list(spec.input_modalities),
        "outputModalities": list(spec.output_modalities),
        "responseStreamingSupported": spec.streaming,
        "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"] if spec.on_demand_in(region) else ["INFERENCE_PROFILE"],
        "modelLifecycle": {"status": spec.lifecycle},
    }


_FILTERS = {
    "byProvider": None,
    "byOutputModality": ("TEXT", "IMAGE", "EMBEDDING"),
    "byInferenceType": ("ON_DEMAND", "PROVISIONED"),
    "byCustomizationType": ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"),
}


def _provider(name: str) -> str:
    return name.lower().replace(" ", "")


def list_foundation_models(query: str, region: str) -> dict[str, Any]:
    filters = dict(parse_qsl(query))
    for key, allowed in _FILTERS.items():
        value = filters.get(key)
        if value is not None and allowed is not None and value not in allowed:
            raise constraint(key, value, f"satisfy enum value set: [{', '.join(allowed)}]")
    summaries = []
    for spec in models_in(region):
        if "byProvider" in filters and not _provider(spec.provider).startswith(
            _provider(filters["byProvider"])
        ):
            continue
        if "byOutputModality" in filters and filters["byOutputModality"] not in spec.output_modalities:
            continue
        if "byInferenceType" in filters and (
            filters["byInferenceType"] != "ON_DEMAND" or not spec.on_demand_in(region)
        ):
            continue
        if "byCustomizationType" in filters:
            continue
        summaries.append(model_summary(spec, region))
    return {"modelSummaries": summaries}


def get_foundation_model(identifier: str, region: str) -> dict[str, Any]:
    model_id = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
    spec = MODELS.get(model_id)
    if spec is None or not spec.offered_in(region):
        raise EmulatorError(
            404,
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        )
    return {"modelDetails": model_summary(spec, region)}


def profile_summary(profile_id: str, region: str) -> dict[str, Any]:
    profile = PROFILES[profile_id]
    return {
        "inferenceProfileName": profile.name,
        "description": f"Routes requests to {MODELS[profile.model_id].name} in {', '.join(profile.regions)}.",
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "inferenceProfileArn": profile_arn(profile_id, region),
        "models": [{"modelArn": foundation_model_arn(profile.model_id, r)} for r in profile.regions],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def list_inference_profiles(query: str, region: str) -> dict[str, Any]:
    kind = dict(parse_qsl(query)).get("type", "SYSTEM_DEFINED")
    if kind not in ("SYSTEM_DEFINED", "APPLICATION"):
        raise constraint("typeEquals", kind, "satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]")
    if kind == "APPLICATION":
        summaries = [
            application_summary(profile, region)
            for profile in APPLICATION_PROFILES.values()
            if _wrapped_models(profile, region)
        ]
        return {"inferenceProfileSummaries": summaries}
    return {"inferenceProfileSummaries": [profile_summary(p.profile_id, region) for p in profiles_in(region)]}


def _wrapped_models(profile: ApplicationProfile, region: str) -> list[dict[str, str]]:
    """The foundation-model ARNs an application profile routes to (those of the profile it copies)."""
    system = PROFILES.get(profile.copies)
    if system is not None:
        if region not in system.regions:
            return []
        return [{"modelArn": foundation_model_arn(system.model_id, r)} for r in system.regions]
    spec = MODELS.get(profile.copies)
    if spec is None or not spec.on_demand_in(region):
        return []
    return [{"modelArn": foundation_model_arn(spec.model_id, region)}]


def application_summary(profile: ApplicationProfile, region: str) -> dict[str, Any]:
    return {
        "inferenceProfileName": profile.name,
        "description": f"Application profile copying {profile.copies}.",
        "createdAt": _CREATED,
        "updatedAt": _CREATED,
        "inferenceProfileArn": application_profile_arn(profile.profile_id, region),
        "models": _wrapped_models(profile, region),
        "inferenceProfileId": profile.profile_id,
        "status": "ACTIVE",
        "type": "APPLICATION",
    }


def _profile_not_found() -> EmulatorError:
    return EmulatorError(404, "ResourceNotFoundException", "Inference profile not found.")


def get_inference_profile(identifier: str, region: str) -> dict[str, Any]:
    """A system-defined profile by id or ARN, or an application profile by ARN (or its bare id)."""
    profile_id = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
    application = APPLICATION_PROFILES.get(profile_id)
    if application is not None and (
        not identifier.startswith("arn:") or ":application-inference-profile/" in identifier
    ):
        if not _wrapped_models(application, region):
            raise _profile_not_found()
        return application_summary(application, region)
    if profile_id not in PROFILES or region not in PROFILES[profile_id].regions:
        raise _profile_not_found()
    return profile_summary(profile_id, region)
