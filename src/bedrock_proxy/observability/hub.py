"""Builds metrics and sinks from the configuration and routes each CallRecord to the sinks that want it.

Config: litellm_settings.success_callback / failure_callback / callbacks (both). A sink named in both
lists is built once and gets each record once. Unknown names fail at start-up with the supported list.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry

from bedrock_proxy.config.knobs import env_seconds
from bedrock_proxy.observability import genai
from bedrock_proxy.observability.dispatch import RecordDispatcher
from bedrock_proxy.observability.helicone import HeliconeSink
from bedrock_proxy.observability.langfuse import LangfuseLegacySink, LangfuseOptions, LangfuseOtlpSink
from bedrock_proxy.observability.lunary import LunarySink
from bedrock_proxy.observability.metrics import GatewayMetrics, overhead_seconds
from bedrock_proxy.observability.otel import OtelSink, parse_otlp_headers, traces_url
from bedrock_proxy.observability.promptlayer import PromptLayerSink
from bedrock_proxy.observability.record import CallRecord
from bedrock_proxy.observability.sink import Sink
from bedrock_proxy.observability.weave import WeaveSink
from bedrock_proxy.observability.webhook import WebhookSink, parse_headers

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Settings

log = logging.getLogger("bedrock_proxy.observability")

DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
DEFAULT_WANDB_PROJECT = "bedrock-proxy"
DEFAULT_FLUSH_SECONDS = 20.0  # what shutdown (SIGTERM) spends at most delivering queued records

# Callback names that need no sink: Prometheus metrics are always served on /metrics.
BUILTIN_CALLBACKS = frozenset({"prometheus"})


def _names(value: list[str]) -> list[str]:
    return [str(v).strip().lower() for v in value if str(v).strip()]


def _langfuse_options(settings: Settings, environ: Mapping[str, str]) -> LangfuseOptions:
    return LangfuseOptions(
        turn_off_message_logging=settings.turn_off_message_logging,
        environment=environ.get("LANGFUSE_TRACING_ENVIRONMENT"),
        release=environ.get("LANGFUSE_RELEASE"),
    )


class SinkNotConfigured(ValueError):
    """A callback named in config.yaml whose connection settings are not in the environment.

    The gateway still starts (serving matters more than tracing, and .env.example ships these empty): the
    sink is left out, said at start-up in the log, by check-config and by doctor.
    """


def _langfuse(settings: Settings, environ: Mapping[str, str], *, mode: str | None = None) -> Sink:
    public_key = environ.get("LANGFUSE_PUBLIC_KEY")
    secret_key = environ.get("LANGFUSE_SECRET_KEY")
    if not public_key or not secret_key:
        raise SinkNotConfigured(
            "the langfuse callback needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY in the environment "
            "(and LANGFUSE_HOST for a self-hosted server)"
        )
    host = environ.get("LANGFUSE_HOST") or environ.get("LANGFUSE_BASE_URL") or DEFAULT_LANGFUSE_HOST
    mode = (mode or environ.get("LANGFUSE_INGESTION") or "otlp").strip().lower()
    options = _langfuse_options(settings, environ)
    if mode == "legacy":
        return LangfuseLegacySink(host, public_key, secret_key, options=options)
    if mode != "otlp":
        raise ValueError(
            f"LANGFUSE_INGESTION must be 'otlp' (Langfuse v4, Cloud) or 'legacy' (v2/v3), not {mode!r}"
        )
    protocol = (environ.get("LANGFUSE_OTLP_PROTOCOL") or "json").strip().lower()
    if protocol not in ("json", "protobuf"):
        raise ValueError(f"LANGFUSE_OTLP_PROTOCOL must be 'json' or 'protobuf', not {protocol!r}")
    return LangfuseOtlpSink(host, public_key, secret_key, options=options, protobuf=protocol == "protobuf")


def _log_messages(settings: Settings) -> bool:
    return not settings.turn_off_message_logging


def _otel(settings: Settings, environ: Mapping[str, str]) -> Sink:
    url = traces_url(environ)
    if not url:
        raise SinkNotConfigured(
            "the otel callback needs OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://collector:4318)"
        )
    protocol = (environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/json").strip().lower()
    return OtelSink(
        url,
        parse_otlp_headers(environ.get("OTEL_EXPORTER_OTLP_HEADERS")),
        protobuf=protocol == "http/protobuf",
        service_name=environ.get("OTEL_SERVICE_NAME") or "bedrock-proxy",
        log_messages=_log_messages(settings),
        deprecated_names=not genai.latest_only(environ),
    )


def _traceloop(settings: Settings, environ: Mapping[str, str]) -> Sink:
    if environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        sink = _otel(settings, environ)
    else:
        api_key = environ.get("TRACELOOP_API_KEY")
        if not api_key:
            raise SinkNotConfigured(
                "the traceloop callback needs TRACELOOP_API_KEY (or OTEL_EXPORTER_OTLP_ENDPOINT)"
            )
        base = (environ.get("TRACELOOP_BASE_URL") or "https://api.traceloop.com").rstrip("/")
        sink = OtelSink(
            base + "/v1/traces",
            {"Authorization": f"Bearer {api_key}"},
            service_name=environ.get("OTEL_SERVICE_NAME") or "bedrock-proxy",
            log_messages=_log_messages(settings),
            deprecated_names=not genai.latest_only(environ),
        )
    sink.name = "traceloop"
    return sink


def _webhook(settings: Settings, environ: Mapping[str, str]) -> Sink:
    url = environ.get("WEBHOOK_URL")
    if not url:
        raise SinkNotConfigured(
            "the webhook callback needs WEBHOOK_URL (and optionally WEBHOOK_HEADERS as JSON)"
        )
    return WebhookSink(
        url, parse_headers(environ.get("WEBHOOK_HEADERS")), log_messages=_log_messages(settings)
    )


def _wandb(settings: Settings, environ: Mapping[str, str]) -> Sink:
    api_key = environ.get("WANDB_API_KEY")
    if not api_key:
        raise SinkNotConfigured(
            "the wandb callback needs WANDB_API_KEY (and WANDB_PROJECT; WANDB_BASE_URL for a dedicated or "
            "self-managed W&B)"
        )
    return WeaveSink(
        api_key=api_key,
        project=environ.get("WANDB_PROJECT") or DEFAULT_WANDB_PROJECT,
        entity=environ.get("WANDB_ENTITY") or None,
        base_url=environ.get("WANDB_BASE_URL") or None,
        trace_url=environ.get("WF_TRACE_SERVER_URL") or None,
    )


def _helicone(settings: Settings, environ: Mapping[str, str]) -> Sink:
    api_key = environ.get("HELICONE_API_KEY")
    if not api_key:
        raise SinkNotConfigured(
            "the helicone callback needs HELICONE_API_KEY (and HELICONE_API_BASE for a self-hosted Helicone)"
        )
    return HeliconeSink(api_key=api_key, base_url=environ.get("HELICONE_API_BASE") or None)


def _lunary(settings: Settings, environ: Mapping[str, str]) -> Sink:
    public_key = environ.get("LUNARY_PUBLIC_KEY") or environ.get("LUNARY_APP_ID")
    if not public_key:
        raise SinkNotConfigured(
            "the lunary callback needs LUNARY_PUBLIC_KEY (and LUNARY_API_URL for a self-hosted Lunary)"
        )
    return LunarySink(public_key=public_key, api_url=environ.get("LUNARY_API_URL") or None)


def _promptlayer(settings: Settings, environ: Mapping[str, str]) -> Sink:
    api_key = environ.get("PROMPTLAYER_API_KEY")
    if not api_key:
        raise SinkNotConfigured(
            "the promptlayer callback needs PROMPTLAYER_API_KEY (and PROMPTLAYER_BASE_URL for another server)"
        )
    return PromptLayerSink(api_key=api_key, base_url=environ.get("PROMPTLAYER_BASE_URL") or None)


SinkFactory = Callable[["Settings", Mapping[str, str]], Sink]

SINK_FACTORIES: dict[str, SinkFactory] = {
    "langfuse": _langfuse,
    "langfuse_otel": lambda s, e: _langfuse(s, e, mode="otlp"),
    "otel": _otel,
    "traceloop": _traceloop,
    "webhook": _webhook,
    "wandb": _wandb,
    "helicone": _helicone,
    "lunary": _lunary,
    "promptlayer": _promptlayer,
}
SUPPORTED_CALLBACKS = tuple(sorted({*SINK_FACTORIES, *BUILTIN_CALLBACKS}))


def _sink_key(name: str) -> str:
    return "langfuse" if name == "langfuse_otel" else name


@dataclass
class SinkPlan:
    """The sinks the callbacks ask for, built but not started; `disabled`: sink -> why it is left out."""

    sinks: dict[str, Sink]
    disabled: dict[str, str]
    success: list[str]  # callback names, as configured
    failure: list[str]

    def log_disabled(self) -> None:
        for name, reason in self.disabled.items():
            log.warning("%s callback disabled: %s", name, reason)


def plan_sinks(settings: Settings, environ: Mapping[str, str]) -> SinkPlan:
    """Build every configured sink exactly as the gateway will (nothing is sent or opened). Raises
    ValueError for a setting that stops the start (an unknown callback, bad WEBHOOK_HEADERS); a sink whose
    connection settings are missing is listed in `disabled` instead. `check-config` runs this too, so a
    config that passes the check starts."""
    both = _names(settings.callbacks)
    success = _names(settings.success_callbacks) + both
    failure = _names(settings.failure_callbacks) + both
    unknown = sorted({n for n in success + failure if n not in SINK_FACTORIES and n not in BUILTIN_CALLBACKS})
    if unknown:
        raise ValueError(
            f"unknown callback(s) {', '.join(unknown)} in litellm_settings success_callback / "
            f"failure_callback / callbacks; supported: {', '.join(SUPPORTED_CALLBACKS)}"
        )
    sinks: dict[str, Sink] = {}
    disabled: dict[str, str] = {}
    for name in dict.fromkeys(success + failure):
        if name in BUILTIN_CALLBACKS:
            continue
        key = _sink_key(name)
        if key not in sinks and key not in disabled:
            try:
                sinks[key] = SINK_FACTORIES[name](settings, environ)
            except SinkNotConfigured as reason:
                disabled[key] = str(reason)
    return SinkPlan(sinks, disabled, success, failure)


class ObservingSink(Sink, Protocol):
    """A sink that also sees every record as it is submitted, on the request path (a few dict operations),
    and is started before the dispatcher: the spend ledger (bedrock_proxy.spend.SpendLedger)."""

    def note(self, record: CallRecord) -> None: ...

    async def start(self) -> None: ...


class Companion(Protocol):
    """Something started after the dispatcher and closed after it, so it sees the last failures and drops:
    the alerter (bedrock_proxy.alerting.Alerter)."""

    async def start(self) -> None: ...

    async def aclose(self, timeout: float = ...) -> None: ...


class Observability:
    """Metrics plus the record dispatcher, as the server sees them.

    The spend ledger and the alerter are other packages' objects: bedrock_proxy.wiring builds them and hands
    them in (`spend`, `alerter`, `alert_sink`); this class only starts and stops them in the right order.
    """

    def __init__(
        self,
        metrics: GatewayMetrics,
        dispatcher: RecordDispatcher,
        *,
        success_sinks: tuple[str, ...] = (),
        failure_sinks: tuple[str, ...] = (),
        log_raw_request_response: bool = False,
        turn_off_message_logging: bool = False,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        spend: ObservingSink | None = None,
        alerter: Companion | None = None,
    ) -> None:
        self.metrics = metrics
        self.spend = spend  # the spend ledger (budgets read its totals), when spend is kept
        # called with every record as it is submitted, on the request path: must be a few dict operations
        self.observers: list[Callable[[CallRecord], None]] = [spend.note] if spend is not None else []
        self.dispatcher = dispatcher
        self.success_sinks = success_sinks
        self.failure_sinks = failure_sinks
        self.log_raw_request_response = log_raw_request_response
        self.turn_off_message_logging = turn_off_message_logging
        self.flush_seconds = flush_seconds
        metrics.add_sink_stats(dispatcher.stats)
        self.alerter = alerter  # general_settings.alerting: cooldowns, failure bursts, dropped records

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        *,
        registry: CollectorRegistry | None = None,
        queue_size: int | None = None,
        plan: SinkPlan | None = None,
        spend: ObservingSink | None = None,
        alerter: Companion | None = None,
        alert_sink: Sink | None = None,
    ) -> Observability:
        """Metrics, the callbacks' sinks (`plan`, else planned here) and the dispatcher from the settings; the
        spend ledger (a success sink), the alerter and its failure sink come already built, or not at all."""
        environ = os.environ if environ is None else environ
        if plan is None:
            plan = plan_sinks(settings, environ)
            plan.log_disabled()
        sinks, disabled = plan.sinks, set(plan.disabled)
        success, failure = plan.success, plan.failure

        def keys(names: list[str]) -> tuple[str, ...]:
            return tuple(
                dict.fromkeys(
                    _sink_key(n) for n in names if n not in BUILTIN_CALLBACKS and _sink_key(n) not in disabled
                )
            )

        success_keys = keys(success)
        if spend is not None:
            sinks[spend.name] = spend
            success_keys += (spend.name,)  # failed calls cost nothing
        failure_keys = keys(failure)
        if alert_sink is not None:
            sinks[alert_sink.name] = alert_sink
            failure_keys += (alert_sink.name,)
        size = queue_size or int(environ.get("BEDROCK_PROXY_SINK_QUEUE_SIZE") or 10_000)
        backoff_max = env_seconds(environ, "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS", 10.0)
        return cls(
            # a /metrics anyone may read shows no key alias, only a short digest of each key
            GatewayMetrics(registry, key_aliases=settings.require_auth_for_metrics_endpoint),
            RecordDispatcher(
                sinks.values(),
                queue_size=size,
                backoff_base=min(0.5, backoff_max),
                backoff_max=backoff_max,
            ),
            success_sinks=success_keys,
            failure_sinks=failure_keys,
            log_raw_request_response=settings.log_raw_request_response,
            turn_off_message_logging=settings.turn_off_message_logging,
            flush_seconds=env_seconds(environ, "BEDROCK_PROXY_SINK_FLUSH_SECONDS", DEFAULT_FLUSH_SECONDS),
            spend=spend,
            alerter=alerter,
        )

    def submit(self, record: CallRecord) -> None:
        """Count a finished record in the metrics and hand it to its sinks. Never blocks, never raises for
        a sink's sake."""
        self.metrics.request_finished(record, overhead_seconds(record))
        for observe in self.observers:
            observe(record)
        names = self.success_sinks if record.status < 400 else self.failure_sinks
        if record.status >= 400 and record.cost and self.spend is not None:
            names = (*names, self.spend.name)  # a call cut short is still paid for: the ledger keeps it
        if names:
            self.dispatcher.submit(record, names)

    async def start(self) -> None:
        if self.spend is not None:  # every key's total is loaded before the first request
            await self.spend.start()
        await self.dispatcher.start()
        if self.alerter is not None:
            await self.alerter.start()
        self.metrics.start()  # shares values with sibling workers under `serve --num-workers N`

    async def aclose(self, timeout: float | None = None) -> None:
        """Deliver what is queued within `timeout` seconds (default: BEDROCK_PROXY_SINK_FLUSH_SECONDS)."""
        await self.dispatcher.aclose(self.flush_seconds if timeout is None else timeout)
        if self.alerter is not None:  # after the dispatcher, so the last failures and drops are counted
            await self.alerter.aclose(min(5.0, self.flush_seconds if timeout is None else timeout))
        await self.metrics.aclose()

    def stats(self) -> dict[str, dict[str, int]]:
        return self.dispatcher.stats()
