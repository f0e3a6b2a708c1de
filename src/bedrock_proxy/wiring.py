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
from collections.abc import Mapping

from prometheus_client import CollectorRegistry

from bedrock_proxy.alerting import Alerter, AlertSink, alerter_from_settings
from bedrock_proxy.bedrock.provider import BedrockProvider, Provider
from bedrock_proxy.bedrock.transport import BedrockTransport
from bedrock_proxy.cache import ResponseCaching
from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.config.schema import Config, Settings
from bedrock_proxy.observability.hub import Observability, plan_sinks
from bedrock_proxy.observability.metrics import GatewayMetrics
from bedrock_proxy.observability.rawlog import RawLoggingProvider
from bedrock_proxy.router.limits import limit_error
from bedrock_proxy.router.router import Router, StateListener
from bedrock_proxy.server.app import Gateway
from bedrock_proxy.server.auth import KeyRing
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
    observability, ledger, alerter = _observability_parts(settings, environ)
    # the router counts retries and fallbacks in the metrics, and tells each listener every deployment
    # state change (healthy, partial, cooldown)
    metrics = observability.metrics
    router = Router(config, metrics, on_state_change=state_listeners(metrics, alerter))
    transport = BedrockTransport(ca_bundle=ca_bundle(environ))
    provider: Provider = BedrockProvider(transport, environ)
    if observability.log_raw_request_response:
        provider = RawLoggingProvider(provider)
    keys = KeyRing(settings.master_key, settings.api_keys)
    # per-key spend_limit, rpm and tpm, checked once per model call before the handler runs; rpm and tpm
    # count in the router's store, so a shared store shares them across processes too
    guard = KeyGuard(keys.identities, ledger, router.store, limit_error)
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
        responses=build_response_store(settings, environ),
    )
