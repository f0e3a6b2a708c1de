"""Prometheus metrics: our own bedrock_proxy_* names plus LiteLLM's names, so existing dashboards work.

Labels are bounded: model group, deployment id, Bedrock model id, error type, API key alias, sink name.
Model group and error type come (indirectly) from clients, so each label keeps at most
`max_label_values` distinct values and folds the rest into "other". Never a user id, never a prompt.
Values live in plain dicts keyed by label tuples and are turned into Prometheus families only at scrape
time: one finished request costs a few microseconds (prometheus_client's locked metric objects cost ~30).
With several worker processes each worker also publishes snapshots of these dicts in the background and a
scrape adds up every worker's (observability/multiprocess.py); with one worker nothing is written.
"""

from __future__ import annotations

import fnmatch
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from bedrock_proxy.observability.multiprocess import (
    MAX_LIVE,
    SINK_STATS,
    SUM,
    SUM_LIVE,
    Merged,
    SnapshotPublisher,
    publisher_from_env,
)
from bedrock_proxy.observability.record import CallRecord, DeploymentState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_SAFE = re.compile(r"[^A-Za-z0-9_.:/@#+*-]")  # ids look like "claude-3-haiku#0", wildcards "claude-*"

HEALTHY, PARTIAL, COOLDOWN = DeploymentState  # the gauge values, re-exported under their old names
_DEPLOYMENT_FAULTS = frozenset(
    {408, 429, 500, 502, 503, 504}
)  # an attempt that says the deployment is unwell


def overhead_seconds(record: CallRecord) -> float:
    """Time the gateway itself added: total latency minus time spent waiting on Bedrock. For a stream,
    up to its first delta (the rest of a stream is Bedrock's pace, not ours)."""
    if record.stream and record.first_token_time is not None:
        spent = record.first_token_time - record.start_time
    else:
        spent = record.end_time - record.start_time
    return max(spent - record.upstream_latency, 0.0)


class _LabelGuard:
    """Caps the distinct values one label may take; beyond the cap a new value becomes "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.known: dict[str, str] = {}  # value as given -> label value

    def __call__(self, value: str | None) -> str:
        if not value:
            return ""
        label = self.known.get(value)
        if label is not None:
            return label
        if len(self.known) >= self.limit:
            return "other"
        label = self.known[value] = _SAFE.sub("_", value)[:100]
        return label


class _KnownLabel:
    """A model label that takes only configured model names (and their aliases): anything else a caller
    names is counted under one `unknown` value, so callers cannot add series by inventing model names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.known = {name: _SAFE.sub("_", name)[:100] for name in names}
        # a wildcard model_name (`claude-*`) labels the names it serves with itself
        self.patterns = [name for name in self.known if "*" in name]

    def __call__(self, value: str | None) -> str:
        if not value:
            return ""
        label = self.known.get(value)
        if label is not None:
            return label
        for pattern in self.patterns:
            if fnmatch.fnmatchcase(value, pattern):
                return self.known[pattern]
        return UNKNOWN_MODEL


UNKNOWN_MODEL = "unknown"
SinkStats = Callable[[], dict[str, dict[str, int]]]


class _SinkCollector(Collector):
    """Reads the dispatcher's counters at scrape time: zero cost on the request path."""

    def __init__(self) -> None:
        self.sources: list[SinkStats] = []
        self.merged: Merged | None = None  # set by GatewayMetrics.render while it renders every worker's

    def stats(self) -> dict[str, dict[str, int]]:
        """This process's queued / delivered / retried / dropped, per sink."""
        out: dict[str, dict[str, int]] = {}
        for source in self.sources:
            for sink, stats in source().items():
                total = out.setdefault(sink, dict.fromkeys(SINK_STATS, 0))
                for stat in SINK_STATS:
                    total[stat] += stats.get(stat, 0)
        return out

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "bedrock_proxy_sink_queue_depth", "Records waiting for a sink", labels=["sink"]
        )
        records = CounterMetricFamily(
            "bedrock_proxy_sink_records", "Records by sink and outcome", labels=["sink", "outcome"]
        )
        sinks = self.merged.sinks if self.merged is not None else self.stats()
        for sink, stats in sinks.items():
            depth.add_metric([sink], stats.get("queued", 0))
            for outcome in ("delivered", "retried", "dropped"):
                records.add_metric([sink, outcome], stats.get(outcome, 0))
        yield depth
        yield records


# (key alias, key id, lifetime spend in USD, spend_limit or None) for each configured key
KeyBudgets = Callable[[], Iterable[tuple[str, str, float, float | None]]]


class _BudgetCollector(Collector):
    """Each configured key's lifetime spend and spend_limit, read from the spend ledger at scrape time.

    The ledger's totals come from the shared store (every worker and gateway writing to it, within its
    refresh interval), so any worker answers for all: these gauges are not added up across workers. The
    key is labelled as every other api_key_alias label (`label`: its alias, or a digest while /metrics is
    public)."""

    def __init__(self, label: Callable[[str | None, str | None], str]) -> None:
        self.sources: list[KeyBudgets] = []
        self.label = label

    def collect(self) -> Iterable[Metric]:
        spend = GaugeMetricFamily(
            "bedrock_proxy_key_spend_usd",
            "Lifetime spend of each configured API key (USD), as budgets count it",
            labels=["api_key_alias"],
        )
        limit = GaugeMetricFamily(
            "bedrock_proxy_key_spend_limit_usd",
            "spend_limit of each configured API key that has one (USD)",
            labels=["api_key_alias"],
        )
        for source in self.sources:
            for alias, key_id, spent, spend_limit in source():
                key = self.label(alias, key_id)
                spend.add_metric([key], spent)
                if spend_limit is not None:
                    limit.add_metric([key], spend_limit)
        if self.sources:
            yield spend
            yield limit


Values = Mapping[tuple[str, ...], Any]


class _Counter:
    merge = SUM  # how workers' values combine (observability/multiprocess.py)

    def __init__(self, name: str, doc: str, labels: list[str]) -> None:
        self.name, self.doc, self.labels = name, doc, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self, values: Values | None = None) -> Metric:
        """This process's values, or `values` (every worker's, merged)."""
        family = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in list((self.values if values is None else values).items()):
            family.add_metric(list(key), value)
        return family


class _Gauge(_Counter):
    def __init__(self, name: str, doc: str, labels: list[str], merge: str = SUM_LIVE) -> None:
        super().__init__(name, doc, labels)
        self.merge = merge

    def set(self, key: tuple[str, ...], value: float) -> None:
        self.values[key] = value

    def family(self, values: Values | None = None) -> Metric:
        family = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        for key, value in list((self.values if values is None else values).items()):
            family.add_metric(list(key), value)
        return family


class _Histogram:
    merge = SUM

    def __init__(self, name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.labels, self.buckets = name, doc, labels, buckets
        self.values: dict[tuple[str, ...], list[float]] = {}  # per-bucket counts + [sum] at the end

    def observe(self, key: tuple[str, ...], value: float) -> None:
        entry = self.values.get(key)
        if entry is None:
            entry = self.values[key] = [0.0] * (len(self.buckets) + 2)
        entry[bisect_left(self.buckets, value)] += 1
        entry[-1] += value

    def family(self, values: Values | None = None) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        bounds = [*(repr(float(b)) for b in self.buckets), "+Inf"]
        for key, entry in list((self.values if values is None else values).items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip(bounds, entry[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(list(key), buckets, entry[-1])
        return family


_Family = TypeVar("_Family", bound="_Counter | _Histogram")


class _Families(Collector):
    def __init__(self) -> None:
        self.families: list[_Counter | _Histogram] = []
        self.merged: Merged | None = None  # set by GatewayMetrics.render while it renders every worker's

    def add(self, family: _Family) -> _Family:
        self.families.append(family)
        return family

    def collect(self) -> Iterable[Metric]:
        merged = self.merged
        if merged is None:
            for family in self.families:
                yield family.family()
            return
        for family in self.families:
            yield family.family(merged.metrics.get(family.name, {}))
        workers = GaugeMetricFamily(
            "bedrock_proxy_metrics_workers",
            "Worker processes whose metrics this scrape adds up: live, or exited (counters kept)",
            labels=["state"],
        )
        workers.add_metric(["live"], merged.live_workers)
        workers.add_metric(["exited"], merged.exited_workers)
        yield workers


class GatewayMetrics:
    """What the server calls: request_started / request_ended / request_finished / set_deployment_state /
    retry / fallback; render() for GET /metrics; start() / aclose() around serving (sharing with sibling
    worker processes when there are any)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        max_label_values: int = 200,
        key_aliases: bool = True,
    ) -> None:
        """`key_aliases` False: the api_key_alias label shows a short digest of the key instead of its alias
        (for a /metrics anyone may read)."""
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.key_aliases = key_aliases
        self._group: Callable[[str | None], str] = _LabelGuard(max_label_values)
        self._route = _LabelGuard(64)  # in-flight requests, by route path
        self._deployment = _LabelGuard(max_label_values * 4)
        self._model = _LabelGuard(max_label_values)
        self._error = _LabelGuard(64)
        self._alias = _LabelGuard(max_label_values * 4)
        self._states: dict[tuple[str, str], int] = {}
        self._regions: dict[str, str] = {}  # deployment -> region, LiteLLM's api_base label
        f = _Families()

        def counter(name: str, doc: str, labels: list[str]) -> _Counter:
            return f.add(_Counter(name, doc, labels))

        def gauge(name: str, doc: str, labels: list[str], merge: str = SUM_LIVE) -> _Gauge:
            return f.add(_Gauge(name, doc, labels, merge))

        def hist(
            name: str, doc: str, labels: list[str], buckets: tuple[float, ...] = LATENCY_BUCKETS
        ) -> _Histogram:
            return f.add(_Histogram(name, doc, labels, buckets))

        lite = ["model", "requested_model", "api_key_alias"]

        # --- our own names
        self.requests = counter("bedrock_proxy_requests", "Requests finished", ["model_group", "status"])
        self.failures = counter(
            "bedrock_proxy_request_failures", "Failed requests", ["model_group", "error_type"]
        )
        self.latency = hist(
            "bedrock_proxy_request_duration_seconds", "Request received to response finished", ["model_group"]
        )
        self.upstream = hist(
            "bedrock_proxy_upstream_duration_seconds",
            "Time spent waiting on Bedrock, all attempts",
            ["model_group", "deployment"],
        )
        self.ttft = hist(
            "bedrock_proxy_time_to_first_token_seconds",
            "Streaming: request received to first delta",
            ["model_group"],
        )
        self.overhead = hist(
            "bedrock_proxy_overhead_seconds",
            "Time the gateway itself added",
            ["model_group"],
            OVERHEAD_BUCKETS,
        )
        self.tokens = counter("bedrock_proxy_tokens", "Tokens by direction", ["model_group", "direction"])
        self.spend = counter("bedrock_proxy_spend_usd", "Spend in USD", ["model_group"])
        # of the input tokens, those read from / written to Bedrock's prompt cache (priced apart)
        self.prompt_cache = counter(
            "bedrock_proxy_prompt_cache_tokens",
            "Input tokens read from or written to the prompt cache",
            ["model_group", "kind"],
        )
        self.cache_hits = counter(
            "bedrock_proxy_cache_hits", "Answers served from the response cache", ["model_group"]
        )
        self.in_flight = gauge(
            "bedrock_proxy_in_flight_requests", "Requests being served, by route", ["route"]
        )
        self.deployment_state = gauge(
            "bedrock_proxy_deployment_state",
            "0 healthy, 1 partial outage, 2 cooling down",
            ["deployment", "model_group"],
            MAX_LIVE,
        )
        self.cooldowns = counter(
            "bedrock_proxy_deployment_cooldowns",
            "Times a deployment entered cooldown",
            ["deployment", "model_group"],
        )
        self.retries = counter(
            "bedrock_proxy_retries", "Upstream retries", ["model_group", "deployment", "error_type"]
        )
        self.fallbacks = counter(
            "bedrock_proxy_fallbacks", "Fallbacks to another model group", ["from_group", "to_group"]
        )
        self.shared_state_down = gauge(
            "bedrock_proxy_shared_state_down",
            "1 while the shared rate-limit store (Redis) is unreachable: limits per process, or refused",
            ["store"],
            MAX_LIVE,
        )
        self.shared_state_outages = counter(
            "bedrock_proxy_shared_state_outages",
            "Times the shared rate-limit store became unreachable",
            ["store"],
        )

        # --- LiteLLM's names and labels (the unbounded ones such as end_user and user are left out)
        self.l_total = counter(
            "litellm_proxy_total_requests_metric",
            "Total requests made to the proxy",
            ["requested_model", "api_key_alias", "status_code"],
        )
        self.l_failed = counter(
            "litellm_proxy_failed_requests_metric",
            "Failed responses from the proxy",
            ["requested_model", "api_key_alias", "exception_status", "exception_class"],
        )
        self.l_latency = hist(
            "litellm_request_total_latency_metric", "Total latency (seconds) of a request", lite
        )
        self.l_api_latency = hist(
            "litellm_llm_api_latency_metric", "Latency (seconds) of the LLM API call", lite
        )
        self.l_ttft = hist(
            "litellm_llm_api_time_to_first_token_metric", "Time to first token of the LLM call", lite
        )
        self.l_overhead = hist(
            "litellm_overhead_latency_metric",
            "Latency overhead (seconds) the proxy added",
            lite,
            OVERHEAD_BUCKETS,
        )
        self.l_in = counter("litellm_input_tokens_metric", "Input tokens", lite)
        self.l_out = counter("litellm_output_tokens_metric", "Output tokens", lite)
        self.l_spend = counter("litellm_spend_metric", "Spend on LLM requests (USD)", lite)
        self.l_cache_hits = counter("litellm_cache_hits_metric", "Requests answered from the cache", lite)
        self.l_deployment_state = gauge(
            "litellm_deployment_state",
            "0 healthy, 1 partial outage, 2 complete outage",
            ["litellm_model_name", "model_id", "api_base", "api_provider"],
            MAX_LIVE,
        )
        self.registry.register(f)
        self._families = f
        self._rules = {family.name: family.merge for family in f.families}
        self._sinks = _SinkCollector()
        self.registry.register(self._sinks)
        self._budgets = _BudgetCollector(self._key_label_of)
        self.registry.register(self._budgets)
        self._publisher: SnapshotPublisher | None = None

    def limit_model_labels(self, names: Iterable[str]) -> None:
        """Label only these model names (the configured groups and aliases); any other is `unknown`."""
        self._group = _KnownLabel(names)

    def _key_label(self, record: CallRecord) -> str:
        return self._key_label_of(record.api_key_alias, record.api_key_id)

    def _key_label_of(self, alias: str | None, key_id: str | None) -> str:
        if self.key_aliases or not key_id:
            return self._alias(alias)
        if key_id == alias:  # "anonymous": no key configured
            return self._alias(alias)
        return self._alias("key-" + key_id[:8])

    # ------------------------------------------------------------------ request path
    def request_started(self, route: str) -> None:
        """In-flight +1. Pair with request_ended(route) in a `finally` (route: the request's path)."""
        self.in_flight.inc((self._route(route),))

    def request_ended(self, route: str) -> None:
        self.in_flight.inc((self._route(route),), -1.0)

    def request_finished(self, record: CallRecord, overhead_seconds: float) -> None:
        """Counters and histograms of one finished call (in-flight is request_started / request_ended)."""
        group = (self._group(record.model_group),)
        lite = (self._model(record.bedrock_model_id), group[0], self._key_label(record))
        status = str(record.status)
        self.requests.inc((group[0], status))
        self.l_total.inc((group[0], lite[2], status))
        latency = record.latency
        self.latency.observe(group, latency)
        self.l_latency.observe(lite, latency)
        if record.upstream_latency > 0:
            self.upstream.observe((group[0], self._deployment(record.deployment_id)), record.upstream_latency)
            self.l_api_latency.observe(lite, record.upstream_latency)
        if record.first_token_time is not None:
            ttft = max(record.first_token_time - record.start_time, 0.0)
            self.ttft.observe(group, ttft)
            self.l_ttft.observe(lite, ttft)
        self.overhead.observe(group, overhead_seconds)
        self.l_overhead.observe(lite, overhead_seconds)
        usage = record.usage
        if usage.prompt_tokens:
            self.tokens.inc((group[0], "input"), usage.prompt_tokens)
            self.l_in.inc(lite, usage.prompt_tokens)
        if usage.completion_tokens:
            self.tokens.inc((group[0], "output"), usage.completion_tokens)
            self.l_out.inc(lite, usage.completion_tokens)
        if usage.cache_read_tokens:
            self.prompt_cache.inc((group[0], "read"), usage.cache_read_tokens)
        if usage.cache_write_tokens:
            self.prompt_cache.inc((group[0], "write"), usage.cache_write_tokens)
        if record.cost:
            self.spend.inc(group, record.cost)
            self.l_spend.inc(lite, record.cost)
        if record.cache_hit:
            self.cache_hits.inc(group)
            self.l_cache_hits.inc(lite)
        if record.status >= 400:
            error = self._error(record.error_type or f"http_{record.status}")
            self.failures.inc((group[0], error))
            self.l_failed.inc((group[0], lite[2], status, error))

    def set_deployment_state(
        self,
        deployment_id: str,
        model_group: str,
        state: int,
        *,
        bedrock_model_id: str = "",
        region: str = "",
    ) -> None:
        """A DeploymentState: 0 healthy | 1 partial | 2 cooldown. Entering 2 counts one cooldown. One of the
        router's on_state_change listeners."""
        deployment, group = self._deployment(deployment_id), self._group(model_group)
        region = self._regions.setdefault(deployment, region) if region else self._regions.get(deployment, "")
        previous = self._states.get((deployment, group))
        self._states[(deployment, group)] = state
        if state == COOLDOWN and previous != COOLDOWN:
            self.cooldowns.inc((deployment, group))
        self.deployment_state.set((deployment, group), state)
        self.l_deployment_state.set((group, deployment, region, "bedrock"), state)

    def shared_state(self, store: str, up: bool) -> None:
        """The shared rate-limit store became unreachable (up False) or answers again."""
        self.shared_state_down.set((store,), 0.0 if up else 1.0)
        if not up:
            self.shared_state_outages.inc((store,))

    def retry(self, model_group: str, deployment_id: str, error_type: str | None = None) -> None:
        self.retries.inc(
            (self._group(model_group), self._deployment(deployment_id), self._error(error_type or ""))
        )

    def fallback(self, from_group: str, to_group: str) -> None:
        self.fallbacks.inc((self._group(from_group), self._group(to_group)))

    # ------------------------------------------------------------------ wiring and export
    def add_sink_stats(self, source: SinkStats) -> None:
        """Expose a dispatcher's per-sink queue depth and delivered / retried / dropped counts."""
        self._sinks.sources.append(source)

    def add_key_budgets(self, source: KeyBudgets) -> None:
        """Expose each configured key's lifetime spend and spend_limit (the spend ledger's totals)."""
        self._budgets.sources.append(source)

    def render(self) -> tuple[bytes, str]:
        """Body and content type for GET /metrics: with sibling workers, everyone's values added up."""
        if self._publisher is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        merged = self._publisher.gather(self._rules)
        self._families.merged = self._sinks.merged = merged
        try:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        finally:
            self._families.merged = self._sinks.merged = None

    # ------------------------------------------------------------------ several worker processes
    def snapshot(self) -> dict[str, Any]:
        """This process's values as plain data (observability/multiprocess.py's Snapshot). It shares the
        histogram lists with the live dicts: serialise or merge it before the event loop moves on."""
        return {
            "pid": os.getpid(),
            "metrics": {family.name: list(family.values.items()) for family in self._families.families},
            "sinks": self._sinks.stats(),
        }

    def start(self, environ: Mapping[str, str] = os.environ) -> None:
        """Begin sharing with sibling workers when the parent `serve` process named a directory
        (BEDROCK_PROXY_METRICS_DIR); with one worker there is none and this does nothing."""
        if self._publisher is None:
            self._publisher = publisher_from_env(self.snapshot, environ)
            if self._publisher is not None:
                self._publisher.start()

    async def aclose(self) -> None:
        """Publish the final values (call after the sinks flushed, so their counts are final)."""
        if self._publisher is not None:
            await self._publisher.aclose()
