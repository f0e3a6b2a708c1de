"""Parsers for the structured settings values: routing strategy, callbacks, alerting, api keys, cache, ...

Each takes (value, path, context) and returns the typed value or INVALID after reporting why, with the
list of valid choices when there is one, so the user never has to look it up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bedrock_proxy.config.coerce import (
    INVALID,
    Invalid,
    as_int,
    as_mapping,
    as_number,
    as_str,
    as_str_list,
    describe,
    did_you_mean,
)
from bedrock_proxy.config.issues import IssueLog, child
from bedrock_proxy.config.refs import NameRef
from bedrock_proxy.config.schema import (
    CACHE_TYPES,
    RETRY_POLICY_ERRORS,
    ROUTING_STRATEGIES,
    SUPPORTED_ALERTING,
    SUPPORTED_CALLBACKS,
    ApiKey,
)


@dataclass
class Context:
    log: IssueLog
    environ: Mapping[str, str]
    refs: list[NameRef] = field(default_factory=list)
    key_paths: dict[str, str] = field(default_factory=dict)  # api key -> where it is written
    unusable_names: set[str] = field(default_factory=set)  # model_names whose entries had errors
    env_sources: dict[str, str] = field(default_factory=dict)  # path -> VAR of its os.environ/VAR


# LiteLLM integrations this gateway does not provide: named so the error says "not provided", not "unknown".
LITELLM_ONLY_CALLBACKS = frozenset(
    {
        "langsmith", "datadog", "datadog_llm_observability",
        "s3", "gcs_bucket", "azure_storage", "sentry", "athina", "braintrust", "arize", "arize_phoenix",
        "mlflow", "logfire", "opik", "humanloop", "dynamodb", "supabase", "openmeter", "greenscale",
        "literalai", "galileo", "lago", "llmonitor", "posthog", "generic", "generic_api", "slack",
        "prometheus_system", "dynamic_rate_limiter", "argilla", "aispend", "berrispend",
        "custom_callback_api", "weave", "agentops", "deepeval", "levo", "cloudzero", "pagerduty",
        "smtp_email",
    }
)  # fmt: skip
ALL_PROXY_MODELS = frozenset({"*", "all-proxy-models", "all"})
_ROUTING_ALIASES = {"usage-based-routing-v2": "usage-based-routing"}
_API_KEY_FIELDS = {
    "key": "key",
    "models": "models",
    "spend_limit": "spend_limit",
    "max_budget": "spend_limit",
    "rpm": "rpm",
    "rpm_limit": "rpm",
    "tpm": "tpm",
    "tpm_limit": "tpm",
    "alias": "alias",
    "key_alias": "alias",
}
CACHE_FIELDS = ("type", "host", "port", "password", "url", "ttl", "namespace")


def one_of(choices: tuple[str, ...]) -> str:
    return ", ".join(choices)


def parse_routing_strategy(value: Any, path: str, ctx: Context) -> str | Invalid:
    name = as_str(value, path, ctx.log)
    if name is INVALID:
        return INVALID
    name = _ROUTING_ALIASES.get(name.strip(), name.strip())
    if name not in ROUTING_STRATEGIES:
        ctx.log.error(
            path,
            f"unknown routing_strategy {name!r}{did_you_mean(name, ROUTING_STRATEGIES, 0.6)}; "
            f"valid strategies: {one_of(ROUTING_STRATEGIES)}",
        )
        return INVALID
    return name


def parse_callbacks(value: Any, path: str, ctx: Context) -> list[str] | Invalid:
    names = as_str_list(value, path, ctx.log)
    if names is INVALID:
        return INVALID
    supported: list[str] = []
    single = not isinstance(value, list)
    for index, raw in enumerate(names):
        item_path = path if single else child(path, index)
        name = raw.strip().lower()
        if name in SUPPORTED_CALLBACKS:
            if name not in supported:
                supported.append(name)
            continue
        if name in LITELLM_ONLY_CALLBACKS:
            reason = f"callback {raw!r} is a LiteLLM integration this gateway does not provide"
        elif "." in name or "/" in name:
            reason = f"callback {raw!r} looks like custom Python code; this gateway runs no custom callbacks"
        else:
            reason = f"unknown callback {raw!r}{did_you_mean(name, SUPPORTED_CALLBACKS, 0.6)}"
        ctx.log.error(
            item_path,
            f"{reason}; supported callbacks: {one_of(SUPPORTED_CALLBACKS)}. Remove it "
            "(OpenTelemetry-based tools can be reached through otel)",
        )
    return supported


def parse_alerting(value: Any, path: str, ctx: Context) -> list[str] | Invalid:
    names = as_str_list(value, path, ctx.log)
    if names is INVALID:
        return INVALID
    kept: list[str] = []
    single = not isinstance(value, list)
    for index, raw in enumerate(names):
        item_path = path if single else child(path, index)
        name = raw.strip().lower()
        if name in SUPPORTED_ALERTING:
            if name not in kept:
                kept.append(name)
        else:
            ctx.log.warning(
                item_path,
                f"unknown alerting channel {raw!r}{did_you_mean(name, SUPPORTED_ALERTING, 0.6)}, ignored; "
                f"supported: {one_of(SUPPORTED_ALERTING)}",
            )
    return kept


def parse_retry_policy(value: Any, path: str, ctx: Context) -> dict[str, int] | Invalid:
    mapping = as_mapping(value, path, ctx.log, what="a mapping of error name to retries")
    if mapping is INVALID:
        return INVALID
    policy: dict[str, int] = {}
    valid = [f"{name}Retries" for name in RETRY_POLICY_ERRORS]
    for key, count in mapping.items():
        key_path = child(path, key)
        name = str(key).removesuffix("Retries")
        if name not in RETRY_POLICY_ERRORS:
            ctx.log.error(
                key_path,
                f"unknown error class {key!r}{did_you_mean(str(key), valid, 0.6)}; "
                f"valid: {one_of(tuple(valid))}",
            )
            continue
        retries = as_int(count, key_path, ctx.log, minimum=0)
        if retries is not INVALID:
            policy[name] = retries
    return policy


def parse_model_group_alias(value: Any, path: str, ctx: Context) -> dict[str, str] | Invalid:
    mapping = as_mapping(value, path, ctx.log, what="a mapping of alias to model_name")
    if mapping is INVALID:
        return INVALID
    aliases: dict[str, str] = {}
    for alias, target in mapping.items():
        alias_path = child(path, alias)
        if isinstance(target, dict):  # LiteLLM's {model: X, hidden: true}
            target = target.get("model")
        name = as_str(target, alias_path, ctx.log)
        if name is INVALID:
            continue
        aliases[str(alias)] = name
        ctx.refs.append(NameRef(alias_path, name, "alias target", source=str(alias)))
    return aliases


def parse_default_fallbacks(value: Any, path: str, ctx: Context) -> list[str] | Invalid:
    names = as_str_list(value, path, ctx.log)
    if names is INVALID:
        return INVALID
    single = not isinstance(value, list)
    for index, name in enumerate(names):
        ctx.refs.append(NameRef(path if single else child(path, index), name, "default fallback"))
    return list(dict.fromkeys(names))


def parse_cache_params(value: Any, path: str, ctx: Context) -> dict[str, str | int | float] | Invalid:
    """cache_params or cache_kwargs -> {field: value} for the fields written (merged later)."""
    mapping = as_mapping(value, path, ctx.log)
    if mapping is INVALID:
        return INVALID
    params: dict[str, str | int | float] = {}
    for key, item in mapping.items():
        key_path = child(path, key)
        parsed: str | int | float | Invalid
        if key == "type":
            kind = as_str(item, key_path, ctx.log)
            if kind is not INVALID and kind not in CACHE_TYPES:
                ctx.log.error(
                    key_path,
                    f"cache type {kind!r} is not supported by this gateway; supported: {one_of(CACHE_TYPES)}",
                )
                kind = INVALID
            parsed = kind
        elif key in ("host", "namespace"):
            parsed = as_str(item, key_path, ctx.log)
        elif key in ("password", "url"):
            parsed = as_str(item, key_path, ctx.log, secret=True)
        elif key == "port":
            parsed = as_int(item, key_path, ctx.log, minimum=1, maximum=65535)
        elif key == "ttl":
            parsed = as_number(item, key_path, ctx.log, minimum=0, exclusive_minimum=True, unit=" seconds")
        else:
            ctx.log.warning(
                key_path,
                f"unknown cache setting, ignored{did_you_mean(str(key), CACHE_FIELDS, 0.6)}; known: "
                f"{one_of(CACHE_FIELDS)}",
            )
            continue
        if parsed is not INVALID:
            params[key] = parsed
    return params


def parse_api_keys(value: Any, path: str, ctx: Context) -> list[ApiKey] | Invalid:
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.log.error(path, f"expected a list of {{key, models, spend_limit}} entries, got {describe(value)}")
        return INVALID
    keys: list[ApiKey] = []
    first_path: dict[str, str] = {}
    for index, entry in enumerate(value):
        entry_path = child(path, index)
        if not isinstance(entry, dict):
            ctx.log.error(entry_path, f"expected a mapping with at least `key`, got {describe(entry)}")
            continue
        fields: dict[str, Any] = {}
        for name, item in entry.items():
            item_path = child(entry_path, name)
            target = _API_KEY_FIELDS.get(name)
            if target is None:
                ctx.log.warning(
                    item_path,
                    f"unknown api key setting, ignored{did_you_mean(str(name), _API_KEY_FIELDS)}; known: "
                    "key, models, spend_limit (or max_budget), rpm, tpm, alias",
                )
                continue
            parsed = _api_key_field(target, item, item_path, ctx)
            if parsed is not INVALID:
                fields[target] = parsed
        if "key" not in entry:
            ctx.log.error(entry_path, "has no `key`: add key: sk-...")
            continue
        if "key" not in fields:
            continue
        key_path = child(entry_path, "key")
        if fields["key"] in first_path:
            ctx.log.error(
                key_path, f"duplicate api key: the same key is already used at {first_path[fields['key']]}"
            )
            continue
        first_path[fields["key"]] = key_path
        ctx.key_paths.setdefault(fields["key"], key_path)
        keys.append(ApiKey(**fields))
    return keys


def _api_key_field(
    target: str, item: Any, path: str, ctx: Context
) -> str | int | float | tuple[str, ...] | Invalid:
    if target == "key":
        return as_str(item, path, ctx.log, secret=True)
    if target == "alias":
        return as_str(item, path, ctx.log)
    if target == "spend_limit":
        return as_number(item, path, ctx.log, minimum=0, unit=" USD")
    if target in ("rpm", "tpm"):
        return as_int(item, path, ctx.log, minimum=0)
    names = as_str_list(item, path, ctx.log)
    if names is INVALID:
        return INVALID
    if any(name in ALL_PROXY_MODELS for name in names):
        return ()
    single = not isinstance(item, list)
    for index, name in enumerate(names):
        ctx.refs.append(NameRef(path if single else child(path, index), name, "api key model"))
    return tuple(dict.fromkeys(names))


def parse_database_url(value: Any, path: str, ctx: Context) -> str | Invalid:
    url = as_str(value, path, ctx.log, secret=True)
    if url is INVALID:
        return INVALID
    return url if check_database_url(url, path, ctx.log) else INVALID


DATABASE_URLS = "sqlite:///path.db, postgresql://user:pass@host:5432/db or mysql://user:pass@host:3306/db"


def check_database_url(url: str, path: str, log: IssueLog) -> bool:
    scheme = urlsplit(url).scheme.lower() if "://" in url or url.startswith("sqlite:") else ""
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres", "sqlite"):
        return True
    if base in ("mysql", "mariadb"):
        return _check_mysql_url(url, path, log)
    shown = f"scheme {scheme!r}" if scheme else "no scheme"
    log.error(path, f"database_url has {shown}; use {DATABASE_URLS}")
    return False


def _check_mysql_url(url: str, path: str, log: IssueLog) -> bool:
    """MySQL / MariaDB: a database name is required (the tables go in it), and the port must be a number."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        log.error(path, "database_url has a port that is not a number; use mysql://user:pass@host:3306/db")
        return False
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        log.error(
            path,
            "database_url names no MySQL database; use mysql://user:pass@host:3306/db (the gateway's tables "
            "are created in that database, which must exist)",
        )
        return False
    return True


def check_url(value: str, path: str, log: IssueLog) -> bool:
    """An http(s) URL with a host, as an endpoint must be."""
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        log.error(path, "expected an http:// or https:// URL with a host, e.g. http://127.0.0.1:4010")
    return ok
