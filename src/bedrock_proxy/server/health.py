"""Background health checks (general_settings.background_health_checks): every health_check_interval
seconds, call each deployment once, as GET /health/models does, and show the verdict in the deployment
state metrics and the log. They only report: a failed check never puts a deployment into cooldown, so a
probe's bad luck cannot take capacity away from real traffic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bedrock_proxy.errors import GatewayError

if TYPE_CHECKING:
    from bedrock_proxy.bedrock.provider import Provider
    from bedrock_proxy.config.schema import Deployment
    from bedrock_proxy.server.app import Gateway

logger = logging.getLogger("bedrock_proxy.health")
PROBE_TIMEOUT = 30.0  # seconds, as GET /health/models

# where each verdict goes: (deployment id, healthy) -> the router's report_probe (state metrics)
ProbeReport = Callable[[str, bool], None]


async def probe(provider: Provider, deployment: Deployment, timeout: float = PROBE_TIMEOUT) -> str | None:
    """One cheap real call (a 1-token chat or a one-word embedding): None when it answered, else why not."""
    try:
        async with asyncio.timeout(timeout):
            if deployment.mode == "embedding":
                from bedrock_proxy.bedrock.embeddings import embedding_calls
                from bedrock_proxy.openai.embeddings import parse_embedding_request

                request = parse_embedding_request({"model": deployment.model_name, "input": "health check"})
                await provider.embed(deployment, embedding_calls(request, deployment.model_id), timeout)
            else:
                body = {
                    "messages": [{"role": "user", "content": [{"text": "ping"}]}],
                    "inferenceConfig": {"maxTokens": 1},
                }
                await provider.converse(deployment, body, timeout)
        return None
    except GatewayError as error:
        return error.message
    except TimeoutError:
        return f"no answer within {timeout:g} s"


class BackgroundHealth:
    """The probing task: `start()` in the gateway's startup, `await stop()` in its shutdown."""

    def __init__(
        self, report: ProbeReport, provider: Provider, deployments: list[Deployment], interval: float
    ) -> None:
        self.report = report
        self.provider = provider
        self.deployments = deployments
        self.interval = max(float(interval), 0.1)
        self.timeout = min(PROBE_TIMEOUT, max(self.interval, 1.0))
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_gateway(cls, gateway: Gateway) -> BackgroundHealth | None:
        """The started checks when the settings ask for them, else None."""
        settings = gateway.settings
        if not settings.background_health_checks:
            return None
        checks = cls(
            gateway.router.report_probe,
            gateway.provider,
            gateway.config.deployments,
            settings.health_check_interval or 300,
        )
        checks.start()
        return checks

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="background-health-checks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def check_all(self) -> dict[str, str | None]:
        """Probe every deployment at once and report each verdict; deployment id -> problem or None."""
        problems = await asyncio.gather(*(probe(self.provider, d, self.timeout) for d in self.deployments))
        verdicts: dict[str, str | None] = {}
        for deployment, problem in zip(self.deployments, problems, strict=True):
            verdicts[deployment.deployment_id] = problem
            self.report(deployment.deployment_id, problem is None)
            if problem is not None:
                logger.warning(
                    "background health check: deployment %s (model %s, %s in %s) is unhealthy: %s",
                    deployment.deployment_id,
                    deployment.model_name,
                    deployment.model_id,
                    deployment.region,
                    problem,
                )
        return verdicts

    async def _run(self) -> None:
        while True:
            try:
                await self.check_all()
            except Exception:  # a bug in one round must not end the checks for good
                logger.exception("background health check round failed")
            await asyncio.sleep(self.interval)
