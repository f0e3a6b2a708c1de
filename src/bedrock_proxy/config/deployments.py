"""model_list -> Deployments: one Bedrock model id, its region, endpoint, credentials, limits and defaults.

Only Bedrock is served, so a `model` that is not `bedrock/...` is an error that says so, rather than a
deployment that fails on its first request.
"""

from __future__ import annotations

import re
from typing import Any

from bedrock_proxy.config.coerce import (
    INVALID,
    Invalid,
    as_bool,
    as_int,
    as_mapping,
    as_number,
    as_str,
    describe,
    did_you_mean,
    suggest,
)
from bedrock_proxy.config.effects import UNAPPLIED_DEFAULT_PARAMS, default_without_effect
from bedrock_proxy.config.features import FEATURE_PARAMS, read_feature
from bedrock_proxy.config.issues import IssueLog, child
from bedrock_proxy.config.parsers import Context, check_url
from bedrock_proxy.config.schema import Deployment, strip_userinfo

DEFAULT_REGION = "eu-west-1"
ROUTE_PREFIXES = (("bedrock/converse/", "converse"), ("bedrock/invoke/", "invoke"), ("bedrock/", "auto"))
CONNECTION_PARAMS = (
    "model",
    "custom_llm_provider",
    "id",
    "aws_region_name",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_role_name",
    "aws_session_name",
    "aws_profile_name",
    "aws_bedrock_runtime_endpoint",
    "api_base",
    "api_key",
    "aws_bearer_token",
)
LIMIT_PARAMS = (
    "rpm",
    "tpm",
    "weight",
    "timeout",
    "stream_timeout",
    "max_retries",
    "max_parallel_requests",
    "input_cost_per_token",
    "output_cost_per_token",
)
# OpenAI request fields a deployment may give defaults for; the request's own value always wins.
APPLIED_DEFAULT_PARAMS = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "reasoning_effort",
    "thinking",
)
THINKING_TYPES = ("enabled", "adaptive", "disabled")  # LiteLLM's `thinking` parameter, as Anthropic's
MIN_THINKING_BUDGET = 1024
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
DEFAULT_PARAMS = APPLIED_DEFAULT_PARAMS + UNAPPLIED_DEFAULT_PARAMS
LITELLM_PARAMS = frozenset(CONNECTION_PARAMS + LIMIT_PARAMS + DEFAULT_PARAMS + FEATURE_PARAMS)
MODEL_INFO_KEYS = (
    "id",
    "mode",
    "base_model",
    "description",
    "max_tokens",
    "max_input_tokens",
    "max_output_tokens",
    "output_vector_size",
    "input_cost_per_token",
    "output_cost_per_token",
    "litellm_provider",
    "supports_function_calling",
    "supports_parallel_function_calling",
    "supports_tool_choice",
    "supports_vision",
    "supports_response_schema",
    "supports_system_messages",
    "supports_prompt_caching",
    "supports_reasoning",
    "supports_pdf_input",
)
MODES = ("chat", "embedding")
ENTRY_KEYS = ("model_name", "litellm_params", "model_info")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_GEOGRAPHY = {"eu.": ("eu-",), "us.": ("us-",), "us-gov.": ("us-gov-",), "apac.": ("ap-",)}
_BEDROCK_ID = re.compile(r"^((eu|us|apac|global|us-gov)\.)?[a-z0-9-]+\.[a-z0-9-]+")
_EXPENSIVE_PER_TOKEN = 0.001  # USD; 1000 USD per million tokens is surely a per-1K or per-1M price


def read_model_list(value: Any, ctx: Context) -> list[Deployment]:
    log = ctx.log
    if value is None:
        log.error("model_list", "no models: add at least one entry (model_name + litellm_params.model)")
        return []
    if not isinstance(value, list):
        log.error("model_list", f"expected a list of models, got {describe(value)}")
        return []
    if not value:
        log.error("model_list", "is empty: add at least one entry (model_name + litellm_params.model)")
    read: list[tuple[int, Deployment]] = []
    per_name: dict[str, int] = {}
    for index, entry in enumerate(value):
        deployment = _read_entry(entry, f"model_list[{index}]", ctx, per_name)
        if deployment is not None:
            read.append((index, deployment))
        elif isinstance(entry, dict) and isinstance(entry.get("model_name"), str):
            ctx.unusable_names.add(entry["model_name"].strip())
    _check_groups(read, ctx)
    return [deployment for _, deployment in read]


def _read_entry(entry: Any, path: str, ctx: Context, per_name: dict[str, int]) -> Deployment | None:
    log = ctx.log
    if not isinstance(entry, dict):
        log.error(path, f"expected a mapping with model_name and litellm_params, got {describe(entry)}")
        return None
    params = as_mapping(entry.get("litellm_params"), child(path, "litellm_params"), log)
    info = as_mapping(entry.get("model_info"), child(path, "model_info"), log)
    if params is INVALID or info is INVALID:
        return None
    params, info = dict(params), dict(info)
    for key, item in entry.items():
        if key in ENTRY_KEYS:
            continue
        key_path = child(path, key)
        if key in LITELLM_PARAMS and key not in params:
            log.warning(key_path, f"read as {path}.litellm_params.{key}; move it under litellm_params")
            params[key] = item
        elif key in MODEL_INFO_KEYS and key not in info:
            log.warning(key_path, f"read as {path}.model_info.{key}; move it under model_info")
            info[key] = item
        else:
            log.warning(
                key_path, f"unknown key in a model_list entry, ignored{did_you_mean(str(key), ENTRY_KEYS)}"
            )
    name = _model_name(entry, path, ctx)
    if "litellm_params" not in entry and not params:
        log.error(path, "has no litellm_params: add litellm_params with model: bedrock/<model id>")
        return None
    params_path = child(path, "litellm_params")
    target = _model(params, params_path, ctx)
    if name is None or target is None:
        return None
    model_id, api = target
    index = per_name.get(name, 0)
    per_name[name] = index + 1
    deployment = Deployment(
        deployment_id=f"{name}#{index}", model_name=name, model_id=model_id, api=api, litellm_params=params
    )
    _read_params(deployment, params, params_path, ctx)
    _read_model_info(deployment, info, child(path, "model_info"), params, ctx)
    if api == "invoke" and deployment.mode == "chat":
        log.warning(
            child(params_path, "model"),
            "bedrock/invoke/ has no effect yet for chat models: they are called with the Converse API "
            "(the same as bedrock/ and bedrock/converse/)",
        )
    _check_geography(deployment, params_path, ctx)
    return deployment


def _model_name(entry: dict[str, Any], path: str, ctx: Context) -> str | None:
    if "model_name" not in entry:
        ctx.log.error(path, "has no model_name: add model_name, the name clients send as `model`")
        return None
    name = as_str(entry["model_name"], child(path, "model_name"), ctx.log)
    return None if name is INVALID else name.strip()


def _model(params: dict[str, Any], path: str, ctx: Context) -> tuple[str, str] | None:
    log = ctx.log
    model_path = child(path, "model")
    if "model" not in params:
        log.error(
            path,
            "has no model: add model: bedrock/<model id>, "
            "e.g. bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        )
        return None
    model = as_str(params["model"], model_path, log)
    if model is INVALID:
        return None
    model = model.strip()
    provider = params.get("custom_llm_provider")
    if provider is not None and str(provider).strip().lower() != "bedrock":
        log.error(
            child(path, "custom_llm_provider"),
            f"provider {provider!r} is not served: this gateway serves only Bedrock "
            "(custom_llm_provider: bedrock)",
        )
        return None
    for prefix, api in ROUTE_PREFIXES:
        if model.startswith(prefix):
            model_id = model[len(prefix) :].strip()
            if not model_id:
                log.error(model_path, f"{model!r} names no model: write {prefix}<model id>")
                return None
            return model_id, api
    if provider is not None:  # custom_llm_provider: bedrock with a bare model id
        return model, "auto"
    if _BEDROCK_ID.match(model):
        log.error(model_path, f"{model!r} lacks the bedrock/ prefix: write 'bedrock/{model}'")
    else:
        log.error(
            model_path,
            f"{model!r} is not a Bedrock model: this gateway serves only Bedrock; write bedrock/<model id>, "
            "e.g. bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        )
    return None


def _read_params(deployment: Deployment, params: dict[str, Any], path: str, ctx: Context) -> None:
    log = ctx.log
    for key, value in params.items():
        key_path = child(path, key)
        if value is None or key in ("model", "custom_llm_provider"):
            continue
        if key in DEFAULT_PARAMS:
            parsed = _default_param(key, value, key_path, ctx)
            if parsed is not INVALID:
                target = "max_tokens" if key == "max_completion_tokens" else key
                if target in deployment.defaults and key == "max_completion_tokens":
                    log.warning(key_path, "ignored: max_tokens is also set and takes precedence")
                    continue
                deployment.defaults[target] = parsed
                params[key] = parsed
                unapplied = default_without_effect(key)
                if unapplied:
                    log.warning(key_path, unapplied)
        elif key in LIMIT_PARAMS:
            parsed = _limit_param(key, value, key_path, ctx)
            if parsed is not INVALID:
                setattr(deployment, key, parsed)
                params[key] = parsed
        elif key in CONNECTION_PARAMS:
            _connection_param(deployment, key, value, key_path, ctx)
        elif key in FEATURE_PARAMS:
            deployment.features = read_feature(deployment.features, key, value, key_path, log)
        elif key in MODEL_INFO_KEYS:
            log.warning(
                key_path, f"read as model_info.{key}; it describes the model, move it under model_info"
            )
        else:
            candidates = [*LITELLM_PARAMS, *MODEL_INFO_KEYS]
            log.warning(key_path, f"unknown litellm_params key, ignored{did_you_mean(str(key), candidates)}")
    if deployment.aws_bearer_token is None and isinstance(params.get("api_key"), str):
        deployment.aws_bearer_token = params["api_key"]
    if (deployment.aws_access_key_id is None) != (deployment.aws_secret_access_key is None):
        missing = "aws_secret_access_key" if deployment.aws_secret_access_key is None else "aws_access_key_id"
        log.error(child(path, missing), "is missing: aws_access_key_id and aws_secret_access_key go together")
    if deployment.aws_session_token and deployment.aws_access_key_id is None:
        log.error(
            child(path, "aws_session_token"), "is set without aws_access_key_id and aws_secret_access_key"
        )
    _region(deployment, params, path, ctx)
    _endpoint(deployment, params, path, ctx)
    for cost in ("input_cost_per_token", "output_cost_per_token"):
        if (getattr(deployment, cost) or 0) > _EXPENSIVE_PER_TOKEN:
            log.warning(
                child(path, cost),
                f"{getattr(deployment, cost):g} USD per token looks like a price per 1K or 1M tokens; "
                "write the price of one token, e.g. 3e-06 for 3 USD per million",
            )


def _default_param(key: str, value: Any, path: str, ctx: Context) -> Any:
    log = ctx.log
    if key in ("max_tokens", "max_completion_tokens", "n", "dimensions"):
        return as_int(value, path, log, minimum=1)
    if key == "top_k":
        return as_int(value, path, log, minimum=0)
    if key == "seed":
        return as_int(value, path, log)
    if key == "temperature":
        return as_number(value, path, log, minimum=0, maximum=2)
    if key == "top_p":
        return as_number(value, path, log, minimum=0, maximum=1)
    if key in ("presence_penalty", "frequency_penalty"):
        return as_number(value, path, log, minimum=-2, maximum=2)
    if key == "parallel_tool_calls":
        return as_bool(value, path, log)
    if key == "reasoning_effort":
        if value in REASONING_EFFORTS:
            return value
        log.error(path, f"expected one of {', '.join(REASONING_EFFORTS)}, got {describe(value)}")
        return INVALID
    if key == "thinking":
        return _thinking_default(value, path, log)
    if key == "stop":
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        log.error(path, f"expected a string or a list of strings, got {describe(value)}")
        return INVALID
    return value


def _thinking_default(value: Any, path: str, log: IssueLog) -> dict[str, Any] | Invalid:
    """LiteLLM's `thinking` ({type: enabled, budget_tokens: N} | {type: adaptive} | {type: disabled}) as a
    deployment's default: the same shape a request sends, checked here so a mistake is named at start-up."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in THINKING_TYPES:
        log.error(
            path,
            "expected {type: enabled, budget_tokens: N}, {type: adaptive} or {type: disabled}, got "
            + describe(value),
        )
        return INVALID
    assert isinstance(value, dict)
    if kind != "enabled":
        return {"type": kind}
    budget = value.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        log.error(
            child(path, "budget_tokens"),
            f"expected an integer of at least {MIN_THINKING_BUDGET}, got {describe(budget)}",
        )
        return INVALID
    return {"type": "enabled", "budget_tokens": budget}


def _limit_param(key: str, value: Any, path: str, ctx: Context) -> int | float | Invalid:
    log = ctx.log
    if key in ("rpm", "tpm", "max_retries"):
        return as_int(value, path, log, minimum=0)
    if key == "max_parallel_requests":
        return as_int(value, path, log, minimum=1)
    if key in ("timeout", "stream_timeout"):
        return as_number(value, path, log, minimum=0, exclusive_minimum=True, unit=" seconds")
    if key == "weight":
        return as_number(value, path, log, minimum=0, exclusive_minimum=True)
    return as_number(value, path, log, minimum=0, unit=" USD")  # costs


def _connection_param(deployment: Deployment, key: str, value: Any, path: str, ctx: Context) -> None:
    secret = key in (
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "api_key",
        "aws_bearer_token",
    )
    text = as_str(value, path, ctx.log, secret=secret)
    if text is INVALID:
        return
    if key == "id":
        deployment.deployment_id = text
    elif key in ("aws_region_name", "aws_bedrock_runtime_endpoint", "api_base", "api_key"):
        return  # read by _region / _endpoint / after the loop
    else:
        setattr(deployment, key, text)


def _region(deployment: Deployment, params: dict[str, Any], path: str, ctx: Context) -> None:
    region_path = child(path, "aws_region_name")
    region = params.get("aws_region_name")
    if region is None:
        for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if ctx.environ.get(var):
                region, region_path = ctx.environ[var], f"{var} (environment)"
                break
    if region is None:
        deployment.region = DEFAULT_REGION
        return
    text = as_str(region, region_path, ctx.log)
    if text is INVALID:
        return
    text = text.strip()
    if not _REGION.match(text):
        ctx.log.error(region_path, f"{text!r} is not an AWS region name; write one like eu-west-1")
        return
    deployment.region = text


def _endpoint(deployment: Deployment, params: dict[str, Any], path: str, ctx: Context) -> None:
    endpoint_path = child(path, "aws_bedrock_runtime_endpoint")
    endpoint = params.get("aws_bedrock_runtime_endpoint")
    api_base = params.get("api_base")
    if endpoint is None and api_base is not None:
        endpoint, endpoint_path = api_base, child(path, "api_base")
    elif endpoint is not None and api_base is not None and endpoint != api_base:
        ctx.log.warning(child(path, "api_base"), "ignored: aws_bedrock_runtime_endpoint is also set and wins")
    if endpoint is None and ctx.environ.get("AWS_BEDROCK_RUNTIME_ENDPOINT"):
        endpoint = ctx.environ["AWS_BEDROCK_RUNTIME_ENDPOINT"]
        endpoint_path = "AWS_BEDROCK_RUNTIME_ENDPOINT (environment)"
    if endpoint is None:
        return
    text = as_str(endpoint, endpoint_path, ctx.log)
    if text is INVALID or not check_url(text.strip(), endpoint_path, ctx.log):
        return
    bare = strip_userinfo(text.strip())
    if bare != text.strip():
        ctx.log.warning(
            endpoint_path,
            "user:password in the endpoint URL is removed: Bedrock requests are signed with AWS credentials",
        )
    deployment.endpoint = bare.rstrip("/")


def _read_model_info(
    deployment: Deployment, info: dict[str, Any], path: str, params: dict[str, Any], ctx: Context
) -> None:
    log = ctx.log
    for key in MODEL_INFO_KEYS:  # model-description keys written in litellm_params (already warned)
        if key in params and key not in info and key not in LITELLM_PARAMS:
            info[key] = params[key]
    checked: dict[str, Any] = {}
    for key, value in info.items():
        key_path = child(path, key)
        key = str(key)
        if key == "mode":
            continue
        if key == "id":
            text = as_str(value, key_path, log)
            if text is not INVALID and "id" not in params:
                deployment.deployment_id = text
        elif key in ("input_cost_per_token", "output_cost_per_token"):
            cost = as_number(value, key_path, log, minimum=0, unit=" USD")
            if cost is not INVALID and getattr(deployment, key) is None:
                setattr(deployment, key, cost)
            value = cost
        elif key in ("max_tokens", "max_input_tokens", "max_output_tokens", "output_vector_size"):
            value = as_int(value, key_path, log, minimum=1)
        elif key.startswith("supports_"):
            value = as_bool(value, key_path, log)
            if key not in MODEL_INFO_KEYS:
                log.warning(
                    key_path, f"unknown capability flag, shown as written{did_you_mean(key, MODEL_INFO_KEYS)}"
                )
        elif key not in MODEL_INFO_KEYS and suggest(key, MODEL_INFO_KEYS, 0.85):
            log.warning(
                key_path,
                f"unknown model_info key, shown as written{did_you_mean(key, MODEL_INFO_KEYS, 0.85)}",
            )
        if value is not INVALID:
            checked[key] = value
    deployment.mode = _mode(deployment, info, child(path, "mode"), ctx)
    checked["mode"] = deployment.mode
    deployment.model_info = checked


def _mode(deployment: Deployment, info: dict[str, Any], path: str, ctx: Context) -> str:
    inferred = "embedding" if "embed" in deployment.model_id.lower() else "chat"
    if info.get("mode") is None:
        return inferred
    mode = as_str(info["mode"], path, ctx.log)
    if mode is INVALID:
        return inferred
    mode = mode.strip().lower()
    if mode == "completion":
        return "chat"  # served on /completions and /chat/completions alike
    if mode not in MODES:
        ctx.log.error(path, f"mode {mode!r} is not served; this gateway serves: {', '.join(MODES)}")
        return inferred
    return mode


def _check_geography(deployment: Deployment, path: str, ctx: Context) -> None:
    for prefix, regions in _GEOGRAPHY.items():
        if deployment.model_id.startswith(prefix) and not deployment.region.startswith(regions):
            ctx.log.warning(
                child(path, "model"),
                f"{prefix} inference profiles can only be called from {regions[0]}* regions, but this "
                f"deployment's region is {deployment.region}: set aws_region_name accordingly",
            )
            return


def _check_groups(read: list[tuple[int, Deployment]], ctx: Context) -> None:
    seen_ids: set[str] = set()
    group_mode: dict[str, str] = {}
    for index, deployment in read:
        path = f"model_list[{index}]"
        if deployment.deployment_id in seen_ids:
            ctx.log.error(
                path,
                f"deployment id {deployment.deployment_id!r} is already used by another model_list entry; "
                "ids must be unique",
            )
        seen_ids.add(deployment.deployment_id)
        mode = group_mode.setdefault(deployment.model_name, deployment.mode)
        if mode != deployment.mode:
            ctx.log.error(
                child(path, "model_info.mode"),
                f"{deployment.model_name!r} has both {mode} and {deployment.mode} deployments; "
                "one model_name must serve one kind: give the other deployments another model_name",
            )
