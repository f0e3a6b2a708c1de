"""What `serve` checks before it starts, run by `check-config` too, so a config that passes the check starts.

The config loader (config/) judges the file on its own. This adds what only the parts built from it know:
every callback's sink, the alerter, the response cache and the TLS trust for Bedrock are built with the
gateway's own builders (bedrock_proxy.wiring; nothing is started, sent or opened), and every model that a
key with a budget can reach must have a price. Each finding is a ConfigIssue, in the same report.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping

from bedrock_proxy.bedrock.transport import tls_context
from bedrock_proxy.config.dotenv import apply_dotenv, describe
from bedrock_proxy.config.issues import ConfigIssue
from bedrock_proxy.config.loader import inspect_config
from bedrock_proxy.config.report import format_report
from bedrock_proxy.config.schema import Config, Deployment, Settings
from bedrock_proxy.observability.hub import plan_sinks
from bedrock_proxy.observability.pricing import is_priced
from bedrock_proxy.wiring import build_alerter, build_cache, ca_bundle, describe_shared_state

FALLBACK_KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
PRICE_ADVICE = (
    "set input_cost_per_token and output_cost_per_token (USD per token, e.g. 0.00000019) in its "
    "litellm_params, or point it at a priced model"
)


def preflight(config: Config, environ: Mapping[str, str]) -> list[ConfigIssue]:
    """Every start-up problem beyond the file's own report: errors stop `serve`, warnings are printed."""
    issues = _built_parts(config.settings, environ)
    issues += unpriced_issues(config)
    return issues


def _built_parts(settings: Settings, environ: Mapping[str, str]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    try:
        plan = plan_sinks(settings, environ)
    except ValueError as error:
        issues.append(ConfigIssue("error", "litellm_settings.success_callback", str(error)))
    else:
        for name, reason in plan.disabled.items():
            issues.append(
                ConfigIssue("warning", _callback_path(settings, name), f"{reason}: the {name} sink is off")
            )
    checks: list[tuple[str, Callable[[], object]]] = [
        ("general_settings.alerting", lambda: build_alerter(settings, environ)),
        ("litellm_settings.cache_params", lambda: build_cache(settings, environ)),
        ("AWS_CA_BUNDLE (environment)", lambda: tls_context(ca_bundle(environ))),
    ]
    for path, build in checks:
        try:
            build()
        except ValueError as error:
            issues.append(ConfigIssue("error", path, str(error)))
    return issues


def _callback_path(settings: Settings, sink: str) -> str:
    names = {"langfuse": ("langfuse", "langfuse_otel")}.get(sink, (sink,))
    for field, written in (
        ("success_callbacks", "success_callback"),
        ("failure_callbacks", "failure_callback"),
        ("callbacks", "callbacks"),
    ):
        if any(name in getattr(settings, field) for name in names):
            return f"litellm_settings.{written}"
    return "litellm_settings.callbacks"


def reachable_models(settings: Settings, allowed: Iterable[str], every_model: Iterable[str]) -> set[str]:
    """The model names a call for one of `allowed` (empty: every model) can end on: the names themselves,
    their aliases' targets and every fallback, followed to the end."""
    every = list(every_model)
    pending = list(allowed) or every
    aliases = settings.model_group_alias
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in aliases:
            pending.append(aliases[name])
        for kind in FALLBACK_KINDS:
            pending.extend(settings.fallbacks_for(name, kind))
    return seen


def unpriced_deployments(config: Config) -> list[Deployment]:
    """Deployments whose calls cannot be priced (no table price, no overrides), in file order."""
    return [
        d
        for d in config.deployments
        if not is_priced(
            d.model_id,
            d.region,
            d.input_cost_per_token,
            d.output_cost_per_token,
            embedding=d.mode == "embedding",
        )
    ]


def unpriced_issues(config: Config) -> list[ConfigIssue]:
    """An error for each unpriced model that a key's budget (spend_limit) can reach, where
    every call would otherwise count as free; a warning for the other unpriced models (no cost reported)."""
    unpriced = unpriced_deployments(config)
    if not unpriced:
        return []
    settings = config.settings
    names = config.model_names()
    budgeted: dict[str, list[str]] = {}  # model name -> the budgets that reach it
    for index, api_key in enumerate(settings.api_keys):
        if api_key.spend_limit is None:
            continue
        label = f"api_keys[{index}]" + (f" ({api_key.alias})" if api_key.alias else "")
        for name in reachable_models(settings, api_key.models, names):
            budgeted.setdefault(name, []).append(label)
    issues: list[ConfigIssue] = []
    for deployment in unpriced:
        what = f"{deployment.model_id} in {deployment.region} has no price"
        path = f"model_list[{config.deployments.index(deployment)}] ({deployment.model_name})"
        budgets = budgeted.get(deployment.model_name)
        if budgets:
            issues.append(
                ConfigIssue(
                    "error",
                    path,
                    f"{what}, so its calls would not count against the budget of "
                    f"{', '.join(dict.fromkeys(budgets))}; {PRICE_ADVICE}",
                )
            )
        else:
            issues.append(ConfigIssue("warning", path, f"{what}: its calls report no cost; {PRICE_ADVICE}"))
    return issues


def full_report(config: Config, environ: Mapping[str, str]) -> list[ConfigIssue]:
    """The file's issues plus the preflight's, as `serve` and `check-config` both print them. The preflight
    runs even when the file has errors, so one edit can fix everything."""
    merged = dict(environ)
    for name, value in config.environment_variables.items():
        merged.setdefault(name, value)
    try:
        extra = preflight(config, merged)
    except Exception as exc:  # a config broken in a way the preflight did not foresee: report, don't crash
        extra = [ConfigIssue("error", "<config>", f"could not check the parts built from it: {exc!r}")]
    return [*config.issues, *extra]


def check_config_from_args(args: argparse.Namespace) -> int:
    """`bedrock-proxy check-config`: every issue serve would find, without starting anything; exit 1 on
    errors. Reads the config, `.env` and the environment only: no network, nothing written."""
    dotenv = apply_dotenv(args.config, os.environ, getattr(args, "env_file", None))
    config = inspect_config(args.config, dict(os.environ))
    if config.deployments:  # else the file could not be read, or names no model: nothing to build
        config.issues = full_report(config, os.environ)
    print(f"{config.source}:")
    note = describe(dotenv)
    if note:
        print(f"note    {note}")
    if not config.errors:  # a config that cannot start keeps no limits anywhere: only its errors matter
        workers = os.environ.get("NUM_WORKERS", "1")
        workers_count = int(workers) if workers.isdigit() else 1
        print(f"note    {describe_shared_state(config.settings, os.environ, workers_count)}")
    print(format_report(config))
    if config.errors:
        print("fix the errors above; the gateway refuses to start until they are fixed", file=sys.stderr)
        return 1
    return 0
