"""The router: model name -> deployment group -> one deployment per attempt, with retries and fallbacks.

Every attempt, successful or not, is appended to the request's CallTrace so observability sees what the
router decided.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.record import Attempt

T = TypeVar("T")
AttemptFn = Callable[[Any, float], Awaitable[T]]  # (deployment, timeout seconds) -> result


@dataclass
class CallTrace:
    """What happened upstream for one client request."""

    model_group: str
    attempts: list[Attempt] = field(default_factory=list)
    deployment: Any = None  # the deployment of the last attempt
    fallback_used: bool = False
    upstream_seconds: float = 0.0


class Router:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.settings = config.settings
        self.groups: dict[str, list[Any]] = config.groups()

    def model_names(self) -> list[str]:
        return list(self.groups)

    def group(self, model_name: str) -> list[Any]:
        deployments = self.groups.get(model_name)
        if deployments is None:
            alias = (getattr(self.settings, "model_group_alias", None) or {}).get(model_name)
            if isinstance(alias, dict):
                alias = alias.get("model")
            deployments = self.groups.get(alias) if alias else None
        if deployments is None:
            names = ", ".join(self.groups)
            raise GatewayError(
                404,
                f"The model '{model_name}' does not exist on this gateway. Configured models: {names}.",
                type="invalid_request_error",
                param="model",
                code="model_not_found",
            )
        return deployments

    def _choose(self, deployments: list[Any]) -> Any:
        if len(deployments) == 1:
            return deployments[0]
        weights = [getattr(d, "weight", None) or getattr(d, "rpm", None) or 1 for d in deployments]
        return random.choices(deployments, weights=weights)[0]

    def _timeout(self, deployment: Any, stream: bool) -> float:
        if stream:
            stream_timeout = getattr(deployment, "stream_timeout", None) or self.settings.stream_timeout
            if stream_timeout:
                return float(stream_timeout)
        return float(getattr(deployment, "timeout", None) or self.settings.request_timeout or 600)

    async def run(
        self, model_name: str, attempt: AttemptFn[T], trace: CallTrace, *, stream: bool = False
    ) -> T:
        deployments = self.group(model_name)
        deployment = self._choose(deployments)
        trace.deployment = deployment
        started = time.time()
        timer = time.perf_counter()
        try:
            result = await attempt(deployment, self._timeout(deployment, stream))
        except GatewayError as error:
            trace.upstream_seconds += time.perf_counter() - timer
            trace.attempts.append(
                Attempt(
                    deployment.deployment_id,
                    deployment.model_name,
                    deployment.model_id,
                    deployment.region,
                    started,
                    time.time(),
                    error.status,
                    error.upstream or error.code,
                    error.message,
                )
            )
            raise
        trace.upstream_seconds += time.perf_counter() - timer
        trace.attempts.append(
            Attempt(
                deployment.deployment_id,
                deployment.model_name,
                deployment.model_id,
                deployment.region,
                started,
                time.time(),
                200,
            )
        )
        return result
