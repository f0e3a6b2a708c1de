"""litellm_settings / router_settings / general_settings -> one typed Settings.

Every key is in one table with its home section. A key written in another section (the seed puts
retry_after, max_parallel_requests and alerting under litellm_settings, where LiteLLM ignores them) is still
read, with a warning naming its home. A key no section knows is reported with a "did you mean".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bedrock_proxy.config.coerce import (
    INVALID,
    Invalid,
    as_bool,
    as_int,
    as_mapping,
    as_number,
    as_str,
    suggest,
)
from bedrock_proxy.config.effects import check_settings_effects
from bedrock_proxy.config.fallbacks import parse_fallbacks
from bedrock_proxy.config.issues import child
from bedrock_proxy.config.parsers import (
    Context,
    check_database_url,
    parse_alerting,
    parse_api_keys,
    parse_cache_params,
    parse_callbacks,
    parse_database_url,
    parse_default_fallbacks,
    parse_model_group_alias,
    parse_retry_policy,
    parse_routing_strategy,
)
from bedrock_proxy.config.schema import REDIS_FAIL_MODES, CacheParams, Settings

# a raw YAML value -> the Settings field's value (each parser its own type), or INVALID
Parser = Callable[[Any, str, Context], Any]
SECTIONS = ("router_settings", "litellm_settings", "general_settings")  # precedence order


@dataclass(frozen=True, slots=True)
class SettingKey:
    field: str  # Settings attribute; "_cache_kwargs" is merged into cache_params
    parse: Parser
    priority: int = 0  # lower wins among keys of one section that set the same field


def _bool(value: Any, path: str, ctx: Context) -> bool | Invalid:
    return as_bool(value, path, ctx.log)


def _count(value: Any, path: str, ctx: Context) -> int | Invalid:
    return as_int(value, path, ctx.log, minimum=0)


def _positive_int(value: Any, path: str, ctx: Context) -> int | Invalid:
    return as_int(value, path, ctx.log, minimum=1)


def _seconds(value: Any, path: str, ctx: Context) -> float | Invalid:
    return as_number(value, path, ctx.log, minimum=0, exclusive_minimum=True, unit=" seconds")


def _seconds_or_zero(value: Any, path: str, ctx: Context) -> float | Invalid:
    return as_number(value, path, ctx.log, minimum=0, unit=" seconds")


def _usd(value: Any, path: str, ctx: Context) -> float | Invalid:
    return as_number(value, path, ctx.log, minimum=0, unit=" USD")


def _positive(value: Any, path: str, ctx: Context) -> float | Invalid:
    return as_number(value, path, ctx.log, minimum=0, exclusive_minimum=True)


def _text(value: Any, path: str, ctx: Context) -> str | Invalid:
    return as_str(value, path, ctx.log)


def _secret(value: Any, path: str, ctx: Context) -> str | Invalid:
    return as_str(value, path, ctx.log, secret=True)


def _fail_mode(value: Any, path: str, ctx: Context) -> Any:
    """redis_fail_mode: what limits do while the shared store is down."""
    mode = as_str(value, path, ctx.log)
    if mode is INVALID:
        return INVALID
    mode = mode.strip().lower()
    if mode not in REDIS_FAIL_MODES:
        ctx.log.error(
            path,
            f"must be one of {', '.join(REDIS_FAIL_MODES)}, not {value!r}: 'open' keeps serving with each "
            "process's own limits while Redis is down, 'closed' refuses requests with 503",
        )
        return INVALID
    return mode


MAKE_A_KEY = 'make one with: echo "sk-$(openssl rand -hex 16)"'


def _master_key(value: Any, path: str, ctx: Context) -> str | Invalid:
    """An empty key is the usual first-deploy mistake (.env.example ships it empty): name what to fill."""
    if not (isinstance(value, str) and not value.strip()):
        return _secret(value, path, ctx)
    variable = ctx.env_sources.get(path)
    if variable:
        ctx.log.error(
            path,
            f"{variable} is set but empty (read here as os.environ/{variable}), so clients have no key to "
            f"send: set {variable}=sk-... in .env or the environment; {MAKE_A_KEY}",
        )
    else:
        ctx.log.error(
            path,
            "is empty, so clients have no key to send: write a key here, or remove it and set "
            f"LITELLM_MASTER_KEY=sk-... in .env or the environment; {MAKE_A_KEY}",
        )
    return INVALID


def _port(value: Any, path: str, ctx: Context) -> int | Invalid:
    return as_int(value, path, ctx.log, minimum=1, maximum=65535)


def _megabytes(value: Any, path: str, ctx: Context) -> Any:
    return as_number(value, path, ctx.log, minimum=0, exclusive_minimum=True, unit=" MB")


def _depth(value: Any, path: str, ctx: Context) -> Any:
    return as_int(value, path, ctx.log, minimum=4, maximum=200)  # orjson writes at most 254 levels


def _mapping(value: Any, path: str, ctx: Context) -> dict[Any, Any] | Invalid:
    return as_mapping(value, path, ctx.log)


def _fallbacks(value: Any, path: str, ctx: Context) -> dict[str, list[str]] | Invalid:
    return parse_fallbacks(value, path, ctx.log, ctx.refs)


_FALLBACK_KEYS = {
    "fallbacks": SettingKey("fallbacks", _fallbacks),
    "context_window_fallbacks": SettingKey("context_window_fallbacks", _fallbacks),
    "content_policy_fallbacks": SettingKey("content_policy_fallbacks", _fallbacks),
    "default_fallbacks": SettingKey("default_fallbacks", parse_default_fallbacks),
}

NATIVE: dict[str, dict[str, SettingKey]] = {
    "litellm_settings": {
        "num_retries": SettingKey("num_retries", _count),
        "request_timeout": SettingKey("request_timeout", _seconds),
        **_FALLBACK_KEYS,
        "success_callback": SettingKey("success_callbacks", parse_callbacks),
        "failure_callback": SettingKey("failure_callbacks", parse_callbacks),
        "callbacks": SettingKey("callbacks", parse_callbacks),
        "cache": SettingKey("cache", _bool),
        "cache_params": SettingKey("cache_params", parse_cache_params),
        "drop_params": SettingKey("drop_params", _bool),
        "set_verbose": SettingKey("set_verbose", _bool),
        "debug": SettingKey("debug", _bool),
        "json_logs": SettingKey("json_logs", _bool),
        "log_raw_request_response": SettingKey("log_raw_request_response", _bool),
        "turn_off_message_logging": SettingKey("turn_off_message_logging", _bool),
        "redact_user_api_key_info": SettingKey("redact_user_api_key_info", _bool),
        "require_auth_for_metrics_endpoint": SettingKey("require_auth_for_metrics_endpoint", _bool),
        "max_budget": SettingKey("max_budget", _usd),
        "rpm": SettingKey("rpm", _count),  # the seed's global limits
        "tpm": SettingKey("tpm", _count),
    },
    "router_settings": {
        "routing_strategy": SettingKey("routing_strategy", parse_routing_strategy),
        "routing_strategy_args": SettingKey("routing_strategy_args", _mapping),
        "num_retries": SettingKey("num_retries", _count),
        "timeout": SettingKey("request_timeout", _seconds),
        "stream_timeout": SettingKey("stream_timeout", _seconds),
        "retry_after": SettingKey("retry_after", _seconds_or_zero),
        "retry_policy": SettingKey("retry_policy", parse_retry_policy),
        "allowed_fails": SettingKey("allowed_fails", _count),
        "cooldown_time": SettingKey("cooldown_time", _seconds_or_zero),
        "max_fallbacks": SettingKey("max_fallbacks", _count),
        **_FALLBACK_KEYS,
        "enable_pre_call_checks": SettingKey("enable_pre_call_checks", _bool),
        "model_group_alias": SettingKey("model_group_alias", parse_model_group_alias),
        "redis_host": SettingKey("redis_host", _text),
        "redis_port": SettingKey("redis_port", _port),
        "redis_password": SettingKey("redis_password", _secret),
        "redis_url": SettingKey("redis_url", _secret),
        "redis_fail_mode": SettingKey("redis_fail_mode", _fail_mode),
        "cache_responses": SettingKey("cache", _bool),  # the seed's shape
        "cache_kwargs": SettingKey("_cache_kwargs", parse_cache_params),
    },
    "general_settings": {
        "master_key": SettingKey("master_key", _master_key),
        "database_url": SettingKey("database_url", parse_database_url),
        "api_keys": SettingKey("api_keys", parse_api_keys),  # the seed's shape
        "alerting": SettingKey("alerting", parse_alerting),
        "alerting_threshold": SettingKey("alerting_threshold", _positive),
        "max_parallel_requests": SettingKey("max_parallel_requests", _positive_int, priority=1),
        "global_max_parallel_requests": SettingKey("max_parallel_requests", _positive_int),
        "background_health_checks": SettingKey("background_health_checks", _bool),
        "health_check_interval": SettingKey("health_check_interval", _seconds),
        "disable_spend_logs": SettingKey("disable_spend_logs", _bool),
        # hostile callers: what one request or connection may hold (docs/security.md)
        "max_request_size_mb": SettingKey("max_request_size_mb", _megabytes),
        "max_json_depth": SettingKey("max_json_depth", _depth),
        "max_images_per_request": SettingKey("max_images_per_request", _positive_int),
        "max_image_fetches_per_request": SettingKey("max_image_fetches_per_request", _positive_int),
        "max_image_fetches_per_process": SettingKey("max_image_fetches_per_process", _positive_int),
        "max_request_header_size_kb": SettingKey("max_request_header_size_kb", _positive_int),
        "max_request_headers": SettingKey("max_request_headers", _positive_int),
        "request_header_timeout": SettingKey("request_header_timeout", _seconds),
        "max_connections": SettingKey("max_connections", _positive_int),
    },
}


@dataclass(slots=True)
class _Candidate:
    rank: tuple[int, int, int]
    path: str
    value: Any


class SettingsReader:
    """Reads the three sections in any order, then builds Settings once everything is known."""

    def __init__(self, ctx: Context, per_model_keys: frozenset[str]) -> None:
        self.ctx = ctx
        self.per_model_keys = per_model_keys
        self._candidates: dict[str, list[_Candidate]] = {}
        self._rejected: set[str] = set()  # fields whose value was reported as an error
        self._order = 0

    def read_section(self, section: str, value: Any) -> None:
        log = self.ctx.log
        body = as_mapping(value, section, log)
        if body is INVALID:
            return
        for key, item in body.items():
            key = str(key)
            path = child(section, key)
            spec = NATIVE[section].get(key)
            rank_section = SECTIONS.index(section)
            if spec is None:
                home = next((name for name in SECTIONS if key in NATIVE[name]), None)
                if home is None:
                    self._unknown(section, key, path)
                    continue
                spec = NATIVE[home][key]
                rank_section += len(SECTIONS)
                log.warning(
                    path,
                    f"read as {home}.{key}; it belongs in {home} (LiteLLM ignores it under {section}), "
                    "move it there",
                )
            parsed = spec.parse(item, path, self.ctx)
            if parsed is INVALID:
                self._rejected.add(spec.field)
                continue
            self._order += 1
            rank = (rank_section, spec.priority, self._order)
            self._candidates.setdefault(spec.field, []).append(_Candidate(rank, path, parsed))

    def _unknown(self, section: str, key: str, path: str) -> None:
        if key in self.per_model_keys:
            self.ctx.log.warning(
                path,
                f"{key} is a per-model setting, ignored here: set it under litellm_params of each "
                "model_list entry that needs it",
            )
            return
        hint = ""
        match = suggest(key, NATIVE[section])
        if match:
            hint = f" (did you mean '{match}'?)"
        else:
            homes = {other: name for name in reversed(SECTIONS) for other in NATIVE[name]}
            match = suggest(key, homes)
            if match:
                hint = f" (did you mean {homes[match]}.{match}?)"
        self.ctx.log.warning(path, f"unknown key in {section}, ignored{hint}")

    def build(self) -> tuple[Settings, dict[str, str]]:
        """Settings plus, for each field that was set, the path it was read from."""
        values: dict[str, Any] = {}
        paths: dict[str, str] = {}
        for field_name, candidates in self._candidates.items():
            candidates.sort(key=lambda candidate: candidate.rank)
            winner = candidates[0]
            for other in candidates[1:]:
                if other.value != winner.value:
                    self.ctx.log.warning(
                        other.path, f"ignored: {winner.path} is also set and takes precedence"
                    )
            values[field_name] = winner.value
            paths[field_name] = winner.path
        cache_kwargs = values.pop("_cache_kwargs", None)
        cache_params = values.pop("cache_params", None)
        settings = Settings(**values)
        self._finish_cache(settings, cache_kwargs, cache_params, paths)
        self._finish_environment(settings, paths)
        return settings, paths

    def _finish_cache(
        self,
        settings: Settings,
        cache_kwargs: dict[str, Any] | None,
        cache_params: dict[str, Any] | None,
        paths: dict[str, str],
    ) -> None:
        environ, log = self.ctx.environ, self.ctx.log
        merged = {**(cache_kwargs or {}), **(cache_params or {})}
        params_path = paths.get("cache_params") or paths.get("_cache_kwargs")
        if merged and not settings.cache and params_path:
            log.warning(
                params_path,
                "is set but caching is off, so it has no effect: add litellm_settings.cache: true "
                "(or router_settings.cache_responses: true)",
            )
        if settings.redis_host is None and settings.redis_url is None:
            if merged.get("host") or merged.get("url"):
                settings.redis_host = merged.get("host")
                settings.redis_port = settings.redis_port or merged.get("port")
                settings.redis_password = settings.redis_password or merged.get("password")
                settings.redis_url = merged.get("url")
            else:
                settings.redis_host = environ.get("REDIS_HOST") or None
                settings.redis_url = environ.get("REDIS_URL") or None
                if settings.redis_port is None and environ.get("REDIS_PORT", "").isdigit():
                    settings.redis_port = int(environ["REDIS_PORT"])
                settings.redis_password = settings.redis_password or environ.get("REDIS_PASSWORD") or None
        has_redis = bool(settings.redis_host or settings.redis_url)
        kind = merged.get("type") or ("redis" if has_redis else "local")
        settings.cache_params = CacheParams(
            type=kind,
            host=merged.get("host", settings.redis_host if kind == "redis" else None),
            port=merged.get("port", settings.redis_port if kind == "redis" else None),
            password=merged.get("password", settings.redis_password if kind == "redis" else None),
            url=merged.get("url", settings.redis_url if kind == "redis" else None),
            ttl=merged.get("ttl"),
            namespace=merged.get("namespace"),
        )
        if (
            settings.cache
            and kind == "redis"
            and not (settings.cache_params.host or settings.cache_params.url)
        ):
            log.error(
                paths.get("cache", "litellm_settings.cache"),
                "the Redis cache has no host: set router_settings.redis_host (and redis_port, "
                "redis_password) or litellm_settings.cache_params.host, or export REDIS_HOST",
            )

    def _finish_environment(self, settings: Settings, paths: dict[str, str]) -> None:
        """Values that may come from the environment, and settings that need an environment variable."""
        environ, log = self.ctx.environ, self.ctx.log
        if settings.master_key is None and environ.get("LITELLM_MASTER_KEY"):
            settings.master_key = environ["LITELLM_MASTER_KEY"]
        if settings.master_key is None and not settings.api_keys and "master_key" not in self._rejected:
            # A rejected key is already an error that stops the start: "accepted without" would contradict it.
            log.warning(
                "general_settings.master_key",
                "no master key (general_settings.master_key or env LITELLM_MASTER_KEY): every request is "
                "accepted without authentication",
            )
        for api_key in settings.api_keys:
            if settings.master_key is not None and api_key.key == settings.master_key:
                log.error(
                    self.ctx.key_paths[api_key.key], "duplicate api key: this key is also the master key"
                )
        from_env = environ.get("DATABASE_URL")
        if settings.database_url is None and from_env:
            settings.database_url = (
                from_env if check_database_url(from_env, "DATABASE_URL (environment)", log) else None
            )
        self._check_alerting_environment(settings, paths)
        check_settings_effects(settings, paths, log)

    def _check_alerting_environment(self, settings: Settings, paths: dict[str, str]) -> None:
        environ = self.ctx.environ
        if "slack" in settings.alerting and not environ.get("SLACK_WEBHOOK_URL"):
            self.ctx.log.warning(
                paths["alerting"],
                "slack alerting needs SLACK_WEBHOOK_URL, which is not set: alerts will only be logged",
            )
        if "webhook" in settings.alerting and not environ.get("WEBHOOK_URL"):
            self.ctx.log.warning(
                paths["alerting"],
                "webhook alerting needs WEBHOOK_URL, which is not set: alerts will only be logged",
            )
        if "email" in settings.alerting:
            missing = [var for var in ("ALERT_EMAIL", "SMTP_HOST") if not environ.get(var)]
            if missing:
                self.ctx.log.warning(
                    paths["alerting"],
                    f"email alerting needs {' and '.join(missing)} (and SMTP_PORT, SMTP_USER, SMTP_PASSWORD "
                    "for your mail server), not set: alerts will only be logged",
                )
