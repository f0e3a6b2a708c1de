"""The router: model name -> deployment group -> one deployment per attempt, with retries and fallbacks.

For one request: admit it against the gateway's limits (`admit`), then `run` an attempt function on the
group's deployments: the strategy picks among those not cooling down and under their own limits; a
retryable failure is retried (on another deployment when there is one, else after a backoff), every
deployment failure counts towards its cooldown; when the group cannot answer, the configured fallback groups
are tried in order. The whole request keeps to one deadline (request_timeout). Every attempt, successful or
not, is appended to the request's CallTrace so observability sees what the router decided.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from bedrock_proxy.errors import ErrorCode, GatewayError, timeout_error
from bedrock_proxy.keys import describe_models, model_allowed
from bedrock_proxy.observability.record import Attempt, DeploymentState
from bedrock_proxy.router import policy
from bedrock_proxy.router.context_windows import context_window, too_long_error
from bedrock_proxy.router.limits import Admission, Ticket, drain_background, limit_error, spawn
from bedrock_proxy.router.state import COOLING, Check, InMemoryState, Option, Readings, SharedState
from bedrock_proxy.router.strategies import strategy_for
from bedrock_proxy.router.tracked import Tracked, shuffle_weights

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Config, Deployment
    from bedrock_proxy.observability.metrics import GatewayMetrics

logger = logging.getLogger("bedrock_proxy.router")

T = TypeVar("T")
AttemptFn = Callable[["Deployment", float], Awaitable[T]]  # (deployment, timeout seconds) -> result
Classify = Callable[[T], str | None]  # result -> "context_window" | "content_policy" | None
HEALTHY, PARTIAL, COOLDOWN = DeploymentState
# Hears every deployment state change, as httpx's event hooks hear requests:
# (deployment_id, model_group, state, *, bedrock_model_id, region) -> None
StateListener = Callable[..., None]
# The model names a caller may use (an API key's `models`); None or empty: every model. Handed to `run`
# explicitly so that every route to a model (the request's group, an alias, every kind of fallback) obeys it.
Allowed = Collection[str] | None
# the router's own guard around an attempt, past the timeout the attempt was given: the transport's
# timeout normally fires first and says more precisely what was late
TIMEOUT_GRACE = 0.25


@dataclass
class CallTrace:
    """What happened upstream for one client request."""

    model_group: str
    attempts: list[Attempt] = field(default_factory=list)
    deployment: Deployment | None = None  # the last attempt's deployment (the one that answered, on success)
    fallback_used: bool = False
    upstream_seconds: float = 0.0
    deadline: float = 0.0  # time.monotonic() the request must end by; set by Router.admit / run
    estimated_tokens: int = 0
    # tokens the request needs in a context window (prompt estimate + max_tokens), for pre-call checks;
    # 0: estimated_tokens stands in for it
    context_tokens: int = 0
    ticket: Ticket | None = None  # set while the request holds an admission
    charged: Tracked | None = None  # the answering deployment, charged the token estimate

    def time_left(self) -> float:
        """Seconds until the request's deadline (a stream must end by then too)."""
        return max(self.deadline - time.monotonic(), 0.001)


def model_not_allowed(model_name: str, allowed: Allowed) -> GatewayError:
    """The 403 a caller gets for a model outside its key's `models` (the same as the server's check)."""
    names = describe_models(allowed or ())
    return GatewayError(
        403,
        f"This API key may not use model '{model_name}'. Models allowed for this key: {names}.",
        type="permission_error",
        param="model",
        code=ErrorCode.MODEL_NOT_ALLOWED,
    )


class Router:
    def __init__(
        self,
        config: Config,
        metrics: GatewayMetrics | None = None,
        *,
        store: SharedState | None = None,
        backoff_base: float = 0.5,
        on_state_change: Iterable[StateListener] | None = None,
    ) -> None:
        """`metrics` counts retries and fallbacks; `on_state_change` hears each deployment's state (None:
        `metrics.set_deployment_state` alone, when there are metrics)."""
        self.config = config
        self.settings = settings = config.settings
        self.metrics = metrics
        if on_state_change is None:
            on_state_change = [metrics.set_deployment_state] if metrics is not None else []
        self.on_state_change: list[StateListener] = list(on_state_change)
        self.groups: dict[str, list[Deployment]] = config.groups()
        self.store: SharedState = store if store is not None else InMemoryState()
        self.strategy = strategy_for(settings.routing_strategy, settings.routing_strategy_args)
        # in-flight slots are named, so a shared store knows whose slot ends (and a lease frees a lost one)
        self._holder_prefix = uuid.uuid4().hex[:12] + ":"
        self._holder_numbers = itertools.count()
        self.backoff_base = backoff_base
        self.request_timeout = float(settings.request_timeout or 600)
        self._tracked: dict[str, list[Tracked]] = {}
        usage = self.strategy.counts_usage
        for name, deployments in self.groups.items():
            group = [Tracked.of(d) for d in deployments]
            shuffle_weights(group)
            for tracked in group:
                tracked.counts_rpm = bool(tracked.deployment.rpm) or usage
                tracked.counts_tokens = bool(tracked.deployment.tpm) or usage
                tracked.counts_in_flight = (
                    bool(tracked.deployment.max_parallel_requests) or self.strategy.reads_in_flight
                )
            self._tracked[name] = group
        # pre-call checks need the prompt estimate, which request handlers compute when counts_tokens
        self.pre_call_checks = bool(settings.enable_pre_call_checks)
        self.counts_tokens = (
            bool(settings.tpm)
            or self.pre_call_checks
            or any(t.counts_tokens for group in self._tracked.values() for t in group)
        )
        self._windows: dict[str, int | None] = {}  # deployment id -> context window, for pre-call checks
        if self.pre_call_checks:
            for group in self._tracked.values():
                for tracked in group:
                    self._windows[tracked.deployment.deployment_id] = context_window(tracked.deployment)
        self.admission = Admission(self.store, settings, self._settle, self.new_holder)
        self._patterns = [name for name in self._tracked if "*" in name]
        if self.on_state_change:
            for group in self._tracked.values():
                for tracked in group:
                    self._report(tracked, HEALTHY, force=True)

    # ------------------------------------------------------------------ groups
    def model_names(self) -> list[str]:
        return list(self.groups)

    def _resolve(self, model_name: str) -> str:
        if model_name in self._tracked:
            return model_name
        alias = self.settings.model_group_alias.get(model_name)  # config/parsers.py made each a name
        if alias in self._tracked:
            return alias
        for pattern in self._patterns:  # a wildcard model_name such as `claude-*`, first in config order
            if fnmatch.fnmatchcase(model_name, pattern):
                return pattern
        names = ", ".join(self.groups)
        raise GatewayError(
            404,
            f"The model '{model_name}' does not exist on this gateway. Configured models: {names}.",
            type="invalid_request_error",
            param="model",
            code=ErrorCode.MODEL_NOT_FOUND,
        )

    def group(self, model_name: str) -> list[Deployment]:
        return self.groups[self._resolve(model_name)]

    def reachable(self, model_name: str, allowed: Allowed) -> list[Deployment]:
        """Every deployment a request for `model_name` may end on for this caller: its group's, then those
        of the fallback groups (of every kind) in its scope. What a budget reservation prices."""
        origin = self._resolve(model_name)
        names = [origin]
        for table in policy.FALLBACK_TABLES.values():
            names += self._fallbacks(origin, table, allowed)[: self.settings.max_fallbacks]
        return [d for name in dict.fromkeys(names) if name in self.groups for d in self.groups[name]]

    def may_route(self, allowed: Allowed, group: str) -> bool:
        """The one scope rule: a caller may reach a group when it may use the group's name (exactly, or
        through a wildcard among its models such as `claude-*`), or an alias (model_group_alias) of it.
        Checked for the request's own group and for every fallback group."""
        if not allowed or model_allowed(allowed, group):
            return True
        aliases = self.settings.model_group_alias
        return any(target == group and model_allowed(allowed, alias) for alias, target in aliases.items())

    # ------------------------------------------------------------------ admission
    def admit(self, trace: CallTrace, estimated_tokens: int = 0) -> Ticket:
        """The request's admission; use as `async with router.admit(...)`: the gateway-wide limits are
        checked with the first attempt's deployment, in one step. Starts the request's clock.

        The ticket holds the request's parallel slot (and the answering deployment's) until the `with` ends,
        so a stream counts as in flight until its last byte. Call `ticket.record_usage(total_tokens)` once
        the answer's usage is known.
        """
        self._resolve(trace.model_group)  # an unknown model is a 404, not a use of the limits
        trace.deadline = time.monotonic() + self.request_timeout
        return Ticket(self.admission, trace, estimated_tokens)

    def new_holder(self) -> str:
        return self._holder_prefix + str(next(self._holder_numbers))

    async def start(self) -> None:
        await self.store.start()

    async def aclose(self) -> None:
        await drain_background()  # slots given back and latency samples still being written
        await self.store.aclose()

    def _settle(self, ticket: Ticket) -> list[tuple[str, float]]:
        """The answering deployment's token correction, once the ticket ends."""
        charged = ticket.trace.charged
        if charged is None:
            return []
        ticket.trace.charged = None
        difference = ticket.tokens - ticket.estimate
        return [(charged.tpm_key, difference)] if difference else []

    # ------------------------------------------------------------------ one request
    async def run(
        self,
        model_name: str,
        attempt: AttemptFn[T],
        trace: CallTrace,
        *,
        allowed: Allowed,
        stream: bool = False,
        classify: Classify[T] | None = None,
    ) -> T:
        """The first acceptable answer of `attempt` on the model's group or its fallbacks.

        `allowed` is the caller's scope (its key's models, None for every model): a fallback group outside
        it is skipped, so a fallback never takes a request to a model its key may not use; with none left
        the original error (or answer) is returned.
        `classify` marks a successful answer that should still fall back (a guardrail intervened, the
        context window was exceeded); when no fallback of that kind is configured the answer is returned,
        and when every fallback fails the first such answer is returned rather than an error. Only
        non-streamed answers are classified: a stream's outcome is known at its end.
        """
        origin = self._resolve(model_name)
        # the name asked for (which a wildcard model_name such as `claude-*` resolves) or its group
        if not (model_allowed(allowed or (), model_name) or self.may_route(allowed, origin)):
            raise model_not_allowed(model_name, allowed)
        if not trace.deadline:
            trace.deadline = time.monotonic() + self.request_timeout
        settings = self.settings
        pending: tuple[T, Deployment | None, bool] | None = (
            None  # (answer, deployment, from a fallback) to fall back from
        )
        try:
            result, kind = await self._run_group(
                origin, origin, attempt, trace, stream, classify, False, allowed
            )
            if kind is None:
                return result
            pending = (result, trace.deployment, False)
            first_error: GatewayError | None = None
            table = policy.FALLBACK_TABLES[kind]
        except GatewayError as error:
            fallback_table = policy.fallback_table(error)
            if fallback_table is None:
                raise
            table = fallback_table
            first_error = error
        names = self._fallbacks(origin, table, allowed)
        tried: list[str] = []
        for name in names[: settings.max_fallbacks]:
            if name not in self._tracked:
                continue
            if time.monotonic() >= trace.deadline:
                break
            tried.append(name)
            trace.fallback_used = True
            if self.metrics is not None:
                self.metrics.fallback(origin, name)
            try:
                result, kind = await self._run_group(
                    origin, name, attempt, trace, stream, classify, True, allowed
                )
            except GatewayError:
                continue
            if kind is None:
                return result
            if pending is None:
                pending = (result, trace.deployment, True)  # a filtered answer still beats an error
        if pending is not None:
            trace.fallback_used = pending[2]
            trace.deployment = pending[1]
            return pending[0]
        assert first_error is not None
        if tried:
            tried_text = f" Fallbacks tried without success: {', '.join(tried)}."
            raise first_error.with_message(first_error.message + tried_text) from first_error
        raise first_error

    async def _run_group(
        self,
        origin: str,
        name: str,
        attempt: AttemptFn[T],
        trace: CallTrace,
        stream: bool,
        classify: Classify[T] | None,
        is_fallback: bool,
        allowed: Allowed,
    ) -> tuple[T, str | None]:
        """Attempts on one group until an answer, or the error that ends it (retries spent, not retryable)."""
        store = self.store
        group = self._tracked[name]
        estimate = trace.estimated_tokens
        if self.pre_call_checks:
            group = self._fitting(name, group, trace)
        tried: list[Tracked] = []
        retries = 0
        last_error: GatewayError | None = None
        shared_group = len(self._tracked[name]) > 1  # the only deployment of a group never cools down
        while True:
            if trace.deadline - time.monotonic() <= 0:
                raise last_error if last_error is not None else timeout_error(self.request_timeout)
            tracked, slot = await self._take(name, group, tried, trace, last_error, shared_group)
            deployment = tracked.deployment
            charged = tracked.counts_tokens and estimate > 0
            now = time.monotonic()
            remaining = trace.deadline - now
            if remaining <= 0:
                await self._give_back(tracked, slot, estimate if charged else 0)
                raise last_error if last_error is not None else timeout_error(self.request_timeout)
            timeout = min(self._timeout(deployment, stream), remaining)
            wall = time.time()
            try:
                async with asyncio.timeout(timeout + TIMEOUT_GRACE):
                    result = await attempt(deployment, timeout)
            except (GatewayError, TimeoutError) as exc:
                error = exc if isinstance(exc, GatewayError) else timeout_error(timeout)
                ended = time.monotonic()
                await self._give_back(tracked, slot, estimate if charged else 0)
                elapsed = ended - now
                trace.upstream_seconds += elapsed
                trace.deployment = deployment
                trace.attempts.append(
                    Attempt(
                        deployment.deployment_id,
                        deployment.model_name,
                        deployment.model_id,
                        deployment.region,
                        wall,
                        time.time(),
                        error.status,
                        error.upstream or error.code,
                        error.message,
                        is_fallback,
                    )
                )
                if error.status == 408 and ended >= trace.deadline - 0.001:
                    raise timeout_error(self.request_timeout) from None
                if policy.is_deployment_failure(error):
                    await self._failed(tracked, len(group) > 1)
                    if self.strategy.observes_latency and error.status == 408:
                        self._observe(tracked, elapsed)
                if tracked not in tried:
                    tried.append(tracked)
                delay = await self._retry_delay(group, tried, tracked, error, retries, estimate)
                if delay is None or ended + delay >= trace.deadline:
                    raise error from None
                retries += 1
                last_error = error
                if self.metrics is not None:
                    self.metrics.retry(name, deployment.deployment_id, error.upstream or error.code)
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            except BaseException:  # cancelled (client gone): give back what the attempt took
                spawn(self._give_back(tracked, slot, estimate if charged else 0))
                # the call reached Bedrock: the trace says where, so the request is charged for it
                trace.deployment = deployment
                trace.upstream_seconds += time.monotonic() - now
                trace.attempts.append(
                    Attempt(
                        deployment.deployment_id,
                        deployment.model_name,
                        deployment.model_id,
                        deployment.region,
                        wall,
                        time.time(),
                        499,
                        ErrorCode.CLIENT_CLOSED_REQUEST,
                        "cancelled: the client closed the connection",
                        is_fallback,
                    )
                )
                raise
            ended = time.monotonic()
            elapsed = ended - now
            trace.upstream_seconds += elapsed
            trace.deployment = deployment
            end_wall = time.time()
            trace.attempts.append(
                Attempt(
                    deployment.deployment_id,
                    deployment.model_name,
                    deployment.model_id,
                    deployment.region,
                    wall,
                    end_wall,
                    200,
                    is_fallback=is_fallback,
                    first_token_time=end_wall if stream else None,
                )
            )
            if self.strategy.observes_latency:
                self._observe(tracked, elapsed)
            if tracked.state != HEALTHY:
                self._report(tracked, HEALTHY)
            kind = classify(result) if classify is not None else None
            if kind is not None and not self._fallbacks(origin, policy.FALLBACK_TABLES[kind], allowed):
                kind = None
            ticket = trace.ticket
            if ticket is not None and kind is None:
                if ticket.deployment_slot is not None:
                    await store.settle((), (ticket.deployment_slot,))
                ticket.deployment_slot = (tracked.in_flight_key, slot) if slot else None  # held to the end
            elif slot:
                await store.settle((), ((tracked.in_flight_key, slot),))
            if charged and kind is None:
                trace.charged = tracked
            return result, kind

    def _observe(self, tracked: Tracked, seconds: float) -> None:
        """Add an attempt's latency to the strategy's windows: off the request path, at once in process."""
        samples = self.strategy.samples(tracked, seconds)
        if isinstance(self.store, InMemoryState):
            self.store.settle_now(samples, ())
        else:
            spawn(self.store.settle(samples, ()))

    def _fallbacks(self, origin: str, table: str, allowed: Allowed) -> list[str]:
        """The fallback groups of one kind (plain, context window, content policy, or the defaults) the
        caller may reach, in order: where the router picks the next group, the caller's scope holds."""
        return [
            name
            for name in self.settings.fallbacks_for(origin, table)
            if name != origin and self.may_route(allowed, name)
        ]

    def _fitting(self, name: str, group: list[Tracked], trace: CallTrace) -> list[Tracked]:
        """The deployments whose context window holds the request; raises context_length_exceeded (which
        follows context_window_fallbacks) when none does, before any upstream call."""
        needed = trace.context_tokens or trace.estimated_tokens
        if needed <= 0:
            return group
        windows = self._windows
        fitting = [t for t in group if (windows.get(t.deployment.deployment_id) or needed) >= needed]
        if fitting:
            return fitting
        largest = max(windows.get(t.deployment.deployment_id) or 0 for t in group)
        raise too_long_error(name, needed, largest)

    def _timeout(self, deployment: Deployment, stream: bool) -> float:
        """Seconds one attempt may take: for a stream, until its first token."""
        if stream:
            first = deployment.stream_timeout or self.settings.stream_timeout
            if first:
                return float(first)
        return float(deployment.timeout or self.request_timeout)

    async def _take(
        self,
        name: str,
        group: list[Tracked],
        tried: list[Tracked],
        trace: CallTrace,
        last_error: GatewayError | None,
        shared_group: bool,
    ) -> tuple[Tracked, str]:
        """The deployment that takes the next attempt, untried ones first in the strategy's order, with its
        limits taken in one atomic step (and its in-flight slot's holder); the request's first attempt takes
        the gateway's own limits in the same step. Raises when none can."""
        estimate = trace.estimated_tokens
        ticket = trace.ticket
        common = ticket.pending if ticket is not None else ()
        fresh = [t for t in group if t not in tried]
        again = [t for t in group if t in tried]
        readings = None
        if self.strategy.reads_counters and len(group) > 1:
            windows = [key for t in group for key in self.strategy.window_keys(t)]
            readings = await self.store.read(windows, [t.in_flight_key for t in group], ())
        order = self.strategy.order(fresh, readings) + self.strategy.order(again, readings)
        options: list[Option] = []
        holders: list[str] = []
        for tracked in order:
            holder = self.new_holder() if tracked.counts_in_flight else ""
            holders.append(holder)
            options.append(self._option(tracked, estimate, holder, shared_group))
        if len(options) == 1 and not options[0].checks and not options[0].cooldown_key and not common:
            return order[0], ""  # nothing to check or count: no call to the store
        choice = await self.store.choose(options, common)
        if choice.common_blocked >= 0:
            raise self.admission.refusal(common[choice.common_blocked], choice.common_wait)
        now = time.monotonic()
        for tracked, blocked, wait in zip(order, choice.blocked_by, choice.waits, strict=False):
            if blocked == COOLING:
                tracked.cooling_until = now + wait
            elif tracked.cooling_until:
                tracked.cooling_until = 0.0
                if tracked.state == COOLDOWN:
                    self._report(tracked, PARTIAL)  # back in service, on probation until it answers
        if choice.admitted:
            if ticket is not None and common:
                self.admission.taken(ticket)
            return order[choice.index], holders[choice.index]
        if last_error is not None:
            raise last_error
        soonest = min((max(wait, 0.001) for wait in choice.waits), default=1.0)
        cooling = choice.blocked_by.count(COOLING)
        if cooling == len(group):
            raise limit_error(
                f"All {cooling} deployment(s) of model '{name}' are cooling down after failing more than"
                f" allowed_fails ({self.settings.allowed_fails}) times in a minute"
                f" (cooldown_time {self.settings.cooldown_time:g} s)",
                soonest,
                ErrorCode.DEPLOYMENTS_COOLING_DOWN,
            )
        raise limit_error(
            f"Every deployment of model '{name}' is cooling down or at its rpm, tpm or max_parallel_requests"
            " limit",
            soonest,
            ErrorCode.DEPLOYMENT_LIMIT_EXCEEDED,
        )

    @staticmethod
    def _option(tracked: Tracked, estimate: int, holder: str, shared_group: bool) -> Option:
        """A deployment's limits for one attempt: in-flight slot, rpm, tpm (the estimate is charged)."""
        deployment = tracked.deployment
        checks: list[Check] = []
        if holder:
            checks.append(Check(tracked.in_flight_key, deployment.max_parallel_requests, holder=holder))
        if tracked.counts_rpm:
            checks.append(Check(tracked.rpm_key, deployment.rpm or None))
        if tracked.counts_tokens:
            charged = estimate if estimate > 0 else 0
            checks.append(Check(tracked.tpm_key, deployment.tpm or None, max(estimate, 1), charged))
        return Option(tuple(checks), tracked.cooldown_key if shared_group else "")

    async def _give_back(self, tracked: Tracked, slot: str, estimate: int) -> None:
        """A failed or abandoned attempt returns its in-flight slot and its token estimate."""
        adds = [(tracked.tpm_key, float(-estimate))] if estimate else []
        releases = [(tracked.in_flight_key, slot)] if slot else []
        if adds or releases:
            await self.store.settle(adds, releases)

    @staticmethod
    def _over_limit(tracked: Tracked, readings: Readings, estimate: int) -> bool:
        """Whether the deployment is cooling down or at one of its own limits."""
        deployment = tracked.deployment
        if readings.cooling_for(tracked.cooldown_key) > 0:
            return True
        if deployment.max_parallel_requests and (
            readings.in_flight(tracked.in_flight_key) >= deployment.max_parallel_requests
        ):
            return True
        if deployment.rpm and readings.total(tracked.rpm_key) >= deployment.rpm:
            return True
        return bool(deployment.tpm and readings.total(tracked.tpm_key) + max(estimate, 1) > deployment.tpm)

    async def _retry_delay(
        self,
        group: list[Tracked],
        tried: list[Tracked],
        failed: Tracked,
        error: GatewayError,
        retries: int,
        estimate: int,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the error must not be retried."""
        error_class = policy.retry_class(error)
        if error_class == "BadRequestError":
            return None
        deployment = failed.deployment
        default = deployment.max_retries if deployment.max_retries is not None else self.settings.num_retries
        allowed = self.settings.retry_policy.get(error_class, default)
        if retries >= allowed:
            return None
        untried = [t for t in group if t not in tried]
        fresh = False
        if untried:
            readings = await self.store.read(
                [key for t in untried for key in (t.rpm_key, t.tpm_key)],
                [t.in_flight_key for t in untried],
                [t.cooldown_key for t in untried],
            )
            fresh = any(not self._over_limit(t, readings, estimate) for t in untried)
        if fresh:
            return 0.0  # another deployment is not affected by this one's trouble: go at once
        if not error.retryable:
            return None  # a deployment-specific error (403, 404) and no other deployment left
        return policy.backoff(retries, self.backoff_base, self.settings.retry_after, error.retry_after)

    # ------------------------------------------------------------------ health
    async def _failed(self, tracked: Tracked, may_cool_down: bool) -> None:
        """Count a failure; past allowed_fails in a minute the deployment cools down. The only deployment
        of a group never does (as in LiteLLM): that would turn one bad minute into refusals, while
        retries with backoff still have a chance. With a shared store, the one process whose failure
        crosses the threshold starts the cooldown for all, and reports it (one alert, not one per process)."""
        settings = self.settings
        seconds = settings.cooldown_time if may_cool_down else 0.0
        fails, cooled = await self.store.fail(
            tracked.fails_key, tracked.cooldown_key, settings.allowed_fails, seconds
        )
        if cooled:
            tracked.cooling_until = time.monotonic() + seconds
            logger.warning(
                "deployment %s cooling down for %g s after %d failures in a minute",
                tracked.deployment.deployment_id,
                settings.cooldown_time,
                int(fails),
            )
            self._report(tracked, COOLDOWN)
        elif tracked.state == HEALTHY:
            self._report(tracked, PARTIAL)

    def _report(self, tracked: Tracked, state: DeploymentState, *, force: bool = False) -> None:
        if tracked.state == state and not force:
            return
        tracked.state = state
        deployment = tracked.deployment
        for listener in self.on_state_change:
            listener(
                deployment.deployment_id,
                tracked.group,
                state,
                bedrock_model_id=deployment.model_id,
                region=deployment.region,
            )

    def report_probe(self, deployment_id: str, healthy: bool) -> None:
        """A background health check's verdict: healthy (0) or partial (1) in the state metrics. It never
        starts a cooldown, and a deployment cooling down stays reported as cooling down."""
        now = time.monotonic()
        for group in self._tracked.values():
            for tracked in group:
                if tracked.deployment.deployment_id != deployment_id:
                    continue
                if tracked.cooling_until > now:
                    continue
                self._report(tracked, HEALTHY if healthy else PARTIAL)

    def deployment_states(self) -> dict[str, DeploymentState]:
        """deployment id -> 0 healthy, 1 partial, 2 cooling down (for health pages and tests)."""
        now = time.monotonic()
        states: dict[str, DeploymentState] = {}
        for group in self._tracked.values():
            for tracked in group:
                cooling = tracked.cooling_until > now
                states[tracked.deployment.deployment_id] = (
                    COOLDOWN if cooling else min(tracked.state, PARTIAL)
                )
        return states
