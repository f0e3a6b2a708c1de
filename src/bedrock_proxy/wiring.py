"""Builds the whole gateway from the config: the one module that constructs one package's objects for another.

Every other package builds only its own objects and is handed the rest: observability is handed the spend
ledger and the alerter, the router is handed the metrics and its state listeners, the key guard is handed
the router's counters, the server is handed every part. `serve`, `demo`, `check-config` and `doctor` all go
through the builders here, so what the check accepts is what the gateway builds. docs/architecture.md shows
where this sits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry

from bedrock_proxy.alerting import Alerter, AlertSink, alerter_from_settings
from bedrock_proxy.alerting.alert import shared_state_alert, soft_budget_alert
from bedrock_proxy.bedrock.app_profiles import learn_application_profiles
from bedrock_proxy.bedrock.provider import BedrockProvider, Provider
from bedrock_proxy.bedrock.transport import BedrockTransport
from bedrock_proxy.cache import ResponseCaching
from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.config.schema import Config, Settings
from bedrock_proxy.control.directory import DEFAULT_REFRESH_SECONDS as KEYS_REFRESH_SECONDS
from bedrock_proxy.control.directory import KeyDirectory
from bedrock_proxy.keys import KeyIdentity
from bedrock_proxy.observability.hub import Observability, plan_sinks
from bedrock_proxy.observability.metrics import GatewayMetrics, KeyBudgets
from bedrock_proxy.observability.pricing import price_profile_as
from bedrock_proxy.observability.rawlog import RawLoggingProvider
from bedrock_proxy.router.leases import LEASE_SECONDS, MAX_LIFETIME
from bedrock_proxy.router.limits import limit_error
from bedrock_proxy.router.router import Router, StateListener
from bedrock_proxy.router.state import BudgetReservations, InMemoryState, SharedState, WindowCounters
from bedrock_proxy.router.state_failover import FAIL_CLOSED, FailoverState
from bedrock_proxy.router.state_redis import RedisState
from bedrock_proxy.router.state_sqlite import SqliteState
from bedrock_proxy.server.app import Gateway
from bedrock_proxy.server.auth import KeyRing
from bedrock_proxy.server.deep_health import DEFAULT_HEALTH_REUSE_SECONDS, DeepHealthCache
from bedrock_proxy.server.images import ImageFetcher
from bedrock_proxy.spend import KeyGuard, SpendLedger, key_identities, plan_ledger
from bedrock_proxy.spend.ledger import DEFAULT_REFRESH_SECONDS
from bedrock_proxy.spend.response_store import ResponseStore, plan_response_store

log = logging.getLogger("bedrock_proxy.observability")


def build_ledger(settings: Settings, environ: Mapping[str, str]) -> SpendLedger | None:
    """The spend sink (docs/budgets.md says when it is on); raises ValueError when budgets cannot be kept."""
    plan = plan_ledger(settings, environ)
    if plan is None:
        return None
    identities = key_identities(settings.master_key, settings.api_keys)
    refresh = env_seconds(environ, "BEDROCK_PROXY_SPEND_REFRESH_SECONDS", DEFAULT_REFRESH_SECONDS)
    budgets = sum(1 for i in identities if i.spend_limit is not None)
    log.info(
        "spend ledger on %s (%d keys with a spend_limit%s)",
        plan.url,
        budgets,
        "; totals only: disable_spend_logs" if not plan.keep_logs else "",
    )
    return SpendLedger(plan.store, keep_logs=plan.keep_logs, refresh_seconds=refresh)


def key_budgets(identities: Sequence[KeyIdentity], ledger: SpendLedger) -> KeyBudgets:
    """What /metrics shows of budgets: each configured key's alias, lifetime spend and spend_limit."""
    keys = [(identity.alias, identity.key_id, identity.spend_limit) for identity in identities]

    def read() -> list[tuple[str, str, float, float | None]]:
        return [(alias, kid, ledger.spent(kid), spend_limit) for alias, kid, spend_limit in keys]

    return read


def key_management_url(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """The database generated keys, teams and users live in, or None when key management is off: it needs
    the master key (who manages) and a configured database (general_settings.database_url or env
    DATABASE_URL; the spend ledger's)."""
    if not settings.master_key:
        return None
    return settings.database_url or environ.get("DATABASE_URL") or None


def build_key_directory(
    settings: Settings, environ: Mapping[str, str], ledger: SpendLedger | None, alerter: Alerter | None
) -> KeyDirectory | None:
    """The in-memory directory of generated keys (docs/keys.md), fed by the ledger's writes; None when key
    management is off."""
    url = key_management_url(settings, environ)
    if url is None or ledger is None:
        return None
    from bedrock_proxy.control.location import store_for_url  # the database drivers load only when used

    def on_soft_budget(kind: str, name: str, spent: float, soft: float, resets_at: float | None) -> None:
        log.warning("%s '%s' passed its soft_budget: $%.6f of $%.6f", kind, name, spent, soft)
        if alerter is not None:
            alerter.raise_alert(soft_budget_alert(kind, name, spent, soft, resets_at))

    directory = KeyDirectory(
        store_for_url(url),
        refresh_seconds=env_seconds(environ, "BEDROCK_PROXY_KEYS_REFRESH_SECONDS", KEYS_REFRESH_SECONDS),
        on_soft_budget=on_soft_budget,
    )
    ledger.on_written.append(directory.written)
    log.info(
        "key management on (/key/*, /team/*, /user/*): changes from other processes seen within %.1f s",
        directory.refresh_seconds,
    )
    return directory


def build_alerter(settings: Settings, environ: Mapping[str, str]) -> Alerter | None:
    """general_settings.alerting -> Alerter, or None when alerting is off; ValueError for a bad setting."""
    return alerter_from_settings(settings, environ)


def build_cache(settings: Settings, environ: Mapping[str, str]) -> ResponseCaching | None:
    """litellm_settings.cache / router_settings.cache_responses: None when caching is off."""
    return ResponseCaching.from_settings(settings, environ)


def build_response_store(settings: Settings, environ: Mapping[str, str]) -> ResponseStore:
    """The Responses API's stored responses, in the spend database (opened on first use)."""
    return plan_response_store(settings, environ)


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The TLS trust the Bedrock transport uses: AWS_CA_BUNDLE, else the system's."""
    return environ.get("AWS_CA_BUNDLE") or None


def build_observability(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    registry: CollectorRegistry | None = None,
    queue_size: int | None = None,
) -> Observability:
    """Metrics, every configured sink, the spend ledger and the alerter, connected; nothing is started.
    Raises ValueError for a setting that stops the start."""
    return _observability_parts(settings, environ, registry=registry, queue_size=queue_size)[0]


def _observability_parts(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    registry: CollectorRegistry | None = None,
    queue_size: int | None = None,
) -> tuple[Observability, SpendLedger | None, Alerter | None]:
    """build_observability, plus the ledger and the alerter it was handed: the rest of the gateway needs
    them as what they are (budgets read the ledger, the router tells the alerter of state changes)."""
    environ = os.environ if environ is None else environ
    plan = plan_sinks(settings, environ)
    plan.log_disabled()
    ledger = build_ledger(settings, environ)
    alerter = build_alerter(settings, environ)
    observability = Observability.from_settings(
        settings,
        environ,
        registry=registry,
        queue_size=queue_size,
        plan=plan,
        spend=ledger,
        alerter=alerter,
        alert_sink=AlertSink(alerter) if alerter is not None else None,
    )
    if alerter is not None:  # records a sink dropped raise an alert too
        alerter.watch_sinks(observability.dispatcher.stats)
    return observability, ledger, alerter


# set by `serve --num-workers N` without Redis: the SQLite file the host's workers share their limits in
STATE_FILE_ENV = "BEDROCK_PROXY_STATE_FILE"
REDIS_STATE_TIMEOUT_ENV = "BEDROCK_PROXY_REDIS_STATE_TIMEOUT_SECONDS"
DEFAULT_REDIS_STATE_TIMEOUT = 0.1  # seconds: a slower Redis is treated as a down one
WINDOW_LEASE_ENV = "BEDROCK_PROXY_WINDOW_LEASE_SECONDS"  # 0: ask Redis on every admission (router/leases.py)


def shared_state_kind(settings: Settings, environ: Mapping[str, str]) -> str:
    """Where limits, in-flight slots and cooldowns are kept: "redis" (router_settings.redis_* or env
    REDIS_*, as the config resolved them), "sqlite" (the workers of one host), or "memory" (one process)."""
    if settings.redis_host or settings.redis_url:
        return "redis"
    if environ.get(STATE_FILE_ENV):
        return "sqlite"
    return "memory"


def describe_shared_state(settings: Settings, environ: Mapping[str, str], workers: int = 1) -> str:
    """One line for check-config and the start-up log: which store keeps the limits."""
    kind = shared_state_kind(settings, environ)
    if kind == "redis":
        target = settings.redis_url and _without_password(settings.redis_url)
        target = target or f"{settings.redis_host}:{settings.redis_port or 6379}"
        mode = settings.redis_fail_mode
        meaning = "refused with 503" if mode == FAIL_CLOSED else "kept per process"
        return f"shared limits in Redis at {target} (redis_fail_mode {mode}: {meaning} when down)"
    if kind == "sqlite" or workers > 1:
        return "limits shared by this host's worker processes (a SQLite file); no Redis configured"
    return "limits and cooldowns kept in this process (one worker, no Redis configured)"


def reservation_ttl(settings: Settings) -> float:
    """Seconds an in-flight slot or budget reservation is held at most: past the longest request, it was
    left behind by a crashed process and frees itself."""
    return float(settings.request_timeout or 600) + 60.0


def window_lease_seconds(environ: Mapping[str, str]) -> float:
    """BEDROCK_PROXY_WINDOW_LEASE_SECONDS: 0 (no leases) up to MAX_LIFETIME (a refusal may wait for others'
    leases to end, so a long lease would hold requests that long)."""
    seconds = env_seconds(environ, WINDOW_LEASE_ENV, LEASE_SECONDS, zero_allowed=True)
    if seconds > MAX_LIFETIME:
        raise ValueError(f"{WINDOW_LEASE_ENV} must be at most {MAX_LIFETIME:g} second, not {seconds:g}")
    return seconds


def build_shared_state(
    settings: Settings,
    environ: Mapping[str, str],
    metrics: GatewayMetrics | None = None,
    alerter: Alerter | None = None,
) -> SharedState:
    """The store every limit and cooldown counts in; a shared one is wrapped so that its outage is logged
    once, counted in the metrics, alerted, and handled by redis_fail_mode (never a 5xx or a hang)."""
    kind = shared_state_kind(settings, environ)
    if kind == "memory":
        return InMemoryState()
    lease = reservation_ttl(settings)  # a slot outlives the longest request
    timeout = env_seconds(environ, REDIS_STATE_TIMEOUT_ENV, DEFAULT_REDIS_STATE_TIMEOUT)
    shared: SharedState
    if kind == "redis":
        shared = RedisState(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password,
            url=settings.redis_url,
            lease_seconds=lease,
            timeout=timeout,
            bounded=False,  # FailoverState bounds each call
            window_leases=window_lease_seconds(environ),
        )
    else:
        shared = SqliteState(environ[STATE_FILE_ENV], lease_seconds=lease, busy_timeout=timeout)
    fail_mode = settings.redis_fail_mode if kind == "redis" else "open"
    meanwhile = (
        "requests are refused with 503 (redis_fail_mode: closed)"
        if fail_mode == FAIL_CLOSED
        else "each gateway process enforces its own limits and cooldowns"
    )

    def on_change(up: bool, reason: str) -> None:
        if metrics is not None:
            metrics.shared_state(kind, up)
        if not up and alerter is not None:
            alerter.raise_alert(shared_state_alert(shared.description, reason, meanwhile))

    return FailoverState(shared, fail_mode=fail_mode, timeout=timeout, on_change=on_change)


def _without_password(url: str) -> str:
    head, sep, tail = url.partition("://")
    if sep and "@" in tail.split("/", 1)[0]:
        return f"{head}://{tail.split('@', 1)[1]}"
    return url


def state_listeners(metrics: GatewayMetrics, alerter: Alerter | None) -> list[StateListener]:
    """Who hears each deployment state change: the state gauges, and the alerter (cooldown alerts)."""
    listeners: list[StateListener] = [metrics.set_deployment_state]
    if alerter is not None:
        listeners.append(alerter.deployment_state)
    return listeners


def build_gateway(
    config: Config,
    *,
    environ: Mapping[str, str] = os.environ,
    image_fetcher: ImageFetcher | None = None,
) -> Gateway:
    """The gateway for one process, every part built from `config` and the environment."""
    settings = config.settings
    # application inference profiles are priced as the model they wrap: asked once, before the router
    # weighs its deployments by price
    for arn, wrapped in learn_application_profiles(config.deployments, environ).items():
        price_profile_as(arn, wrapped)
    observability, ledger, alerter = _observability_parts(settings, environ)
    # model labels take configured names only: a caller naming unknown models adds no series
    observability.metrics.limit_model_labels([*config.model_names(), *settings.model_group_alias])
    # the router counts retries and fallbacks in the metrics, and tells each listener every deployment
    # state change (healthy, partial, cooldown)
    metrics = observability.metrics
    router = Router(
        config,
        metrics,
        store=build_shared_state(settings, environ, metrics, alerter),
        on_state_change=state_listeners(metrics, alerter),
    )
    if alerter is not None and not isinstance(router.store, InMemoryState):
        alerter.share(router.store)  # failure bursts and "once per subject" across processes too
    transport = BedrockTransport(ca_bundle=ca_bundle(environ))
    provider: Provider = BedrockProvider(transport, environ)
    if observability.log_raw_request_response:
        provider = RawLoggingProvider(provider)
    control = build_key_directory(settings, environ, ledger, alerter)
    keys = KeyRing(settings.master_key, settings.api_keys, generated=control)
    # per-key spend_limit, rpm and tpm, checked once per model call before the handler runs; rpm and tpm
    # count in the router's store, so a shared store shares them across processes too; generated keys'
    # budgets (key, team, user) are read from the key directory; every budget reserves in the same store
    # (a call's maximum cost set aside for every process to see)
    reservations = BudgetReservations(router.store, ttl=reservation_ttl(settings))
    counters = WindowCounters(router.store)
    guard = KeyGuard(keys.identities, ledger, counters, limit_error, reservations, book=control)
    if control is not None:
        observability.observers.append(control.observe)
    if ledger is not None:
        metrics.add_key_budgets(key_budgets(keys.identities, ledger))
    if guard.counts_tokens:
        observability.observers.append(guard.observe)
    return Gateway(
        config,
        observability=observability,
        ledger=ledger,
        router=router,
        transport=transport,
        provider=provider,
        keys=keys,
        guard=guard,
        cache=build_cache(settings, environ),
        images=image_fetcher
        or ImageFetcher(
            per_request=settings.max_image_fetches_per_request,
            per_process=settings.max_image_fetches_per_process,
        ),
        deep_health=DeepHealthCache(
            env_seconds(environ, "BEDROCK_PROXY_HEALTH_MODELS_CACHE_SECONDS", DEFAULT_HEALTH_REUSE_SECONDS)
        ),
        responses=build_response_store(settings, environ),
        control=control,
    )
