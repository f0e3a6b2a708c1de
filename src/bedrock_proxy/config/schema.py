"""The typed configuration the rest of the gateway reads: deployments, settings, keys. Never raw dicts.

Defaults follow the LiteLLM proxy so a config moved from LiteLLM behaves the same; where LiteLLM's own
default is unclear the choice is written next to the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bedrock_proxy.config.issues import ConfigIssue

ROUTING_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "latency-based-routing",
    "cost-based-routing",
)
SUPPORTED_CALLBACKS = (
    "langfuse",
    "langfuse_otel",
    "otel",
    "traceloop",
    "webhook",
    "prometheus",
    "wandb",
    "helicone",
    "lunary",
    "promptlayer",
)
SUPPORTED_ALERTING = ("slack", "webhook", "email")
CACHE_TYPES = ("local", "redis")
REDIS_FAIL_MODES = ("open", "closed")  # router_settings.redis_fail_mode
# retry_policy keys: LiteLLM writes `RateLimitErrorRetries`; both that and `RateLimitError` are accepted and
# normalised to the short name.
RETRY_POLICY_ERRORS = (
    "BadRequestError",
    "AuthenticationError",
    "TimeoutError",
    "RateLimitError",
    "ContentPolicyViolationError",
    "InternalServerError",
)

# litellm_params whose values are credentials: never shown by public_params(), never in a repr.
SECRET_PARAMS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_bearer_token", "api_key"}
)
_SECRET_WORDS = re.compile(r"secret|password|passwd|token|credential|(^|_)key$|api_?key", re.IGNORECASE)
_PUBLIC_TOKEN_WORDS = re.compile(r"max_tokens|max_completion_tokens|_per_token|tokens?_per_|^tpm$|top_k")


def is_secret_param(name: str) -> bool:
    """True for credential-looking parameter names; `max_tokens` and `*_cost_per_token` are not secrets."""
    if name in SECRET_PARAMS:
        return True
    if _PUBLIC_TOKEN_WORDS.search(name):
        return False
    return bool(_SECRET_WORDS.search(name))


def strip_userinfo(url: str) -> str:
    """`https://user:pw@host/x` -> `https://host/x`, so an endpoint can be shown without its credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


SERVICE_TIERS = ("priority", "default", "flex", "reserved")  # Bedrock's serviceTier.type values
LATENCIES = ("standard", "optimized")  # Bedrock's performanceConfig.latency values
GUARDRAIL_TRACES = ("enabled", "disabled", "enabled_full")
CACHE_TTLS = ("5m", "1h")


@dataclass(frozen=True, slots=True)
class CacheInjection:
    """One of LiteLLM's `cache_control_injection_points`: a cache point the gateway adds to every request.
    location "message" targets the messages of `role` or the one at `index` (negative counts from the end);
    location "tool_config" puts one after the tools. `ttl` None: Bedrock's default five minutes."""

    location: str  # message | tool_config
    role: str | None = None  # system | user | assistant
    index: int | None = None
    ttl: str | None = None


@dataclass(frozen=True, slots=True)
class BedrockFeatures:
    """A deployment's Bedrock request features (litellm_params), sent on every call to it; a request's own
    service_tier / performanceConfig win over the deployment's."""

    service_tier: str | None = None
    latency: str | None = None
    guardrail: dict[str, str] | None = None  # Converse guardrailConfig: guardrailIdentifier, guardrailVersion
    cache_injection: tuple[CacheInjection, ...] = ()


NO_FEATURES = BedrockFeatures()


@dataclass
class Deployment:
    """One `model_list` entry: a Bedrock model id reached with given credentials, region and limits.

    Several deployments may share a `model_name`; they form the group the router balances over.
    `deployment_id` is `litellm_params.id` or `model_info.id` when given, else `f"{model_name}#{n}"` where n
    counts that name's entries in file order, so adding another model never renames this one.
    Credentials left None mean "use the AWS credential chain" (which includes AWS_BEARER_TOKEN_BEDROCK).
    """

    deployment_id: str
    model_name: str
    model_id: str  # the Bedrock model id or inference profile, without "bedrock/" route prefixes
    api: str = "auto"  # "converse" | "invoke" | "auto" (from bedrock/converse/ or bedrock/invoke/)
    region: str = "eu-west-1"
    endpoint: str | None = None  # None: the real https://bedrock-runtime.{region}.amazonaws.com
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_role_name: str | None = None
    aws_session_name: str | None = None
    aws_profile_name: str | None = None
    aws_bearer_token: str | None = field(
        default=None, repr=False
    )  # litellm_params aws_bearer_token or api_key
    rpm: int | None = None
    tpm: int | None = None
    weight: float | None = None  # None: an equal share
    timeout: float | None = None  # None: Settings.request_timeout
    stream_timeout: float | None = None  # None: Settings.stream_timeout, else the timeout
    max_retries: int | None = None  # None: Settings.num_retries
    max_parallel_requests: int | None = None
    input_cost_per_token: float | None = None  # None: the pricing table
    output_cost_per_token: float | None = None
    defaults: dict[str, Any] = field(
        default_factory=dict
    )  # request params applied when the client omits them
    model_info: dict[str, Any] = field(default_factory=dict)
    mode: str = "chat"  # "chat" | "embedding"
    features: BedrockFeatures = NO_FEATURES  # service tier, latency, guardrail, cache injection points
    litellm_params: dict[str, Any] = field(default_factory=dict, repr=False)  # as written, env refs resolved

    def public_params(self) -> dict[str, Any]:
        """litellm_params without any credential, for /model/info and logs."""
        public: dict[str, Any] = {}
        for name, value in self.litellm_params.items():
            if is_secret_param(name):
                continue
            if name in ("aws_bedrock_runtime_endpoint", "api_base") and isinstance(value, str):
                value = strip_userinfo(value)
            public[name] = value
        return public


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A static key from general_settings.api_keys (the seed's shape). Empty `models` means every model."""

    key: str = field(repr=False)
    models: tuple[str, ...] = ()
    spend_limit: float | None = None  # USD; `max_budget` is read as the same thing
    rpm: int | None = None
    tpm: int | None = None
    alias: str | None = None

    def allows(self, model_name: str) -> bool:
        return not self.models or model_name in self.models


@dataclass
class CacheParams:
    """litellm_settings.cache_params, merged with router_settings.cache_kwargs and redis_*."""

    type: str = "local"  # "local" | "redis"; redis when a Redis host or URL is configured and type is unset
    host: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    url: str | None = field(default=None, repr=False)
    ttl: float | None = None  # seconds; None: the cache's own default
    namespace: str | None = None


@dataclass
class Settings:
    """litellm_settings + router_settings + general_settings, each key in one typed place.

    Where one key can be written in two sections, router_settings wins over litellm_settings, which wins
    over general_settings (as in LiteLLM, where router_settings are passed to the Router last); a key found
    in the wrong section is still read, with a warning naming its right place.
    """

    # retries, timeouts, cooldowns (router)
    num_retries: int = 2  # LiteLLM's Router falls back to openai.DEFAULT_MAX_RETRIES = 2 when unset
    request_timeout: float = 600.0  # seconds (litellm_settings.request_timeout or router_settings.timeout)
    stream_timeout: float | None = None  # None: request_timeout
    retry_after: float = 0.0  # minimum seconds between retries
    retry_policy: dict[str, int] = field(default_factory=dict)  # RETRY_POLICY_ERRORS name -> retries
    allowed_fails: int = 3
    cooldown_time: float = 5.0
    routing_strategy: str = "simple-shuffle"
    routing_strategy_args: dict[str, Any] = field(default_factory=dict)
    enable_pre_call_checks: bool = False
    model_group_alias: dict[str, str] = field(default_factory=dict)  # alias -> model_name
    # fallbacks: model_name -> model_names to try in order, whatever shape the file used
    max_fallbacks: int = 5
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    context_window_fallbacks: dict[str, list[str]] = field(default_factory=dict)
    content_policy_fallbacks: dict[str, list[str]] = field(default_factory=dict)
    default_fallbacks: list[str] = field(default_factory=list)
    # global limits (the seed's litellm_settings.rpm / tpm; general_settings.max_parallel_requests)
    rpm: int | None = None
    tpm: int | None = None
    max_parallel_requests: int | None = None
    max_budget: float | None = None  # USD for the whole proxy
    # request handling and logging
    drop_params: bool = False
    set_verbose: bool = False
    debug: bool = False
    json_logs: bool = False
    log_raw_request_response: bool = False
    turn_off_message_logging: bool = False
    redact_user_api_key_info: bool = False
    # GET /metrics needs a valid key (any configured key), as LiteLLM's litellm_settings key of that name;
    # off (LiteLLM's default): anyone may scrape it, and key aliases are shown as short digests there
    require_auth_for_metrics_endpoint: bool = False
    # observability: names from SUPPORTED_CALLBACKS only
    success_callbacks: list[str] = field(default_factory=list)
    failure_callbacks: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    # caching and shared state
    cache: bool = False
    cache_params: CacheParams = field(default_factory=CacheParams)
    redis_host: str | None = None  # router_settings.redis_*, else the cache's, else env REDIS_*
    redis_port: int | None = None
    redis_password: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    redis_fail_mode: str = "open"  # shared limits while Redis is down: "open" per process, "closed" 503
    # auth, storage, alerting, health
    master_key: str | None = field(
        default=None, repr=False
    )  # general_settings.master_key or LITELLM_MASTER_KEY
    api_keys: list[ApiKey] = field(default_factory=list)
    database_url: str | None = field(default=None, repr=False)  # or env DATABASE_URL; None: embedded SQLite
    disable_spend_logs: bool = False
    alerting: list[str] = field(default_factory=list)  # from SUPPORTED_ALERTING
    alerting_threshold: float | None = None
    background_health_checks: bool = False
    health_check_interval: float = 300.0
    # hostile callers: what one request or connection may hold (docs/security.md lists each and why)
    max_request_size_mb: float = 20.0  # MiB; below Bedrock's 25,000,000-byte request limit
    max_json_depth: int = 64  # nested arrays and objects in a body (or in tool-call arguments)
    max_images_per_request: int = 20  # image parts, data: and http(s) URLs together (Claude on Bedrock: 20)
    max_image_fetches_per_request: int = 4  # image URLs one request downloads at once
    max_image_fetches_per_process: int = 32  # image URLs all requests of one worker download at once
    max_request_header_size_kb: int = 64  # request line and headers together, KiB (answered 431)
    max_request_headers: int = 100  # header fields (answered 431)
    request_header_timeout: float = 10.0  # seconds to send the request line and headers (answered 408)
    max_connections: int = 1024  # open connections per worker (more are answered 503 and closed)

    @property
    def all_callbacks(self) -> list[str]:
        """Every callback named anywhere, each once, in order of first mention."""
        return list(dict.fromkeys([*self.callbacks, *self.success_callbacks, *self.failure_callbacks]))

    def fallbacks_for(self, model_name: str, kind: str = "fallbacks") -> list[str]:
        """Fallback model names of one kind ("fallbacks", "context_window_fallbacks", ...), else defaults."""
        table: dict[str, list[str]] = getattr(self, kind)
        if model_name in table:
            return list(table[model_name])
        return list(self.default_fallbacks) if kind == "fallbacks" else []


@dataclass
class Config:
    deployments: list[Deployment] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    issues: list[ConfigIssue] = field(default_factory=list)
    source: str = "<string>"
    environment_variables: dict[str, str] = field(default_factory=dict, repr=False)

    def groups(self) -> dict[str, list[Deployment]]:
        """model_name -> its deployments, names and deployments in file order."""
        groups: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            groups.setdefault(deployment.model_name, []).append(deployment)
        return groups

    def model_names(self) -> list[str]:
        return list(self.groups())

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)

    @property
    def errors(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.level == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.level == "warning"]
