"""general_settings.background_health_checks: a real gateway probes every deployment on the emulator each
health_check_interval and shows in GET /metrics which one is down, without a single client request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bedrock_proxy.config import Deployment, load_config_text
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.server.health import BackgroundHealth
from tests.e2e.support import CHAT_MODEL_ID, MASTER_KEY, REGION, eventually, gateway, metric_samples, sample


def config(emulator_url: str, checks: bool) -> str:
    return f"""model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: {REGION}
      id: good
  - model_name: claude
    litellm_params:
      model: bedrock/{CHAT_MODEL_ID}
      aws_region_name: {REGION}
      aws_bedrock_runtime_endpoint: {emulator_url}/_emu/fault=unavailable
      id: broken
general_settings:
  master_key: {MASTER_KEY}
  background_health_checks: {str(checks).lower()}
  health_check_interval: 0.5
"""


def state(base: str, deployment: str) -> float:
    return sample(metric_samples(base), "bedrock_proxy_deployment_state", deployment=deployment)


def test_background_checks_show_the_unreachable_deployment_unhealthy_and_the_other_healthy(
    emulator_url: str, tmp_path: Path
) -> None:
    with gateway(config(emulator_url, True), tmp_path, emulator_url=emulator_url) as running:
        eventually(lambda: state(running.url, "broken") == 1, message="the broken deployment never showed")
        assert state(running.url, "good") == 0
        samples = metric_samples(running.url)
        assert sample(samples, "litellm_deployment_state", model_id="broken") == 1
        eventually(lambda: "background health check: deployment broken" in running.output())
        assert "deployment good" not in running.output()
        assert state(running.url, "broken") == 1, "a failing probe reports; it never starts a cooldown"


def test_without_background_checks_nothing_probes_the_deployments(emulator_url: str, tmp_path: Path) -> None:
    with gateway(config(emulator_url, False), tmp_path, emulator_url=emulator_url) as running:
        time.sleep(1.5)  # three intervals: probes, if any ran, would have reported by now
        assert state(running.url, "broken") == 0
        assert "background health check:" not in running.output()


class CountingProvider:
    """Answers "good", fails "broken", counts every probe."""

    def __init__(self) -> None:
        self.calls = 0

    async def converse(self, deployment: Deployment, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        self.calls += 1
        if deployment.deployment_id == "broken":
            raise GatewayError(503, "Bedrock is unavailable", code="service_unavailable")
        return {}


async def test_the_checks_stop_when_the_gateway_shuts_down() -> None:
    reports: list[tuple[str, bool]] = []
    two_rounds = asyncio.Event()

    def report_probe(ident: str, healthy: bool) -> None:
        reports.append((ident, healthy))
        if len(reports) >= 4:
            two_rounds.set()

    provider = CountingProvider()
    deployments = load_config_text(config("http://127.0.0.1:9", True), environ={}).deployments
    assert [d.deployment_id for d in deployments] == ["good", "broken"]
    checks = BackgroundHealth(report_probe, provider, deployments, 0.1)
    checks.start()
    await asyncio.wait_for(two_rounds.wait(), 10)
    await checks.stop()
    assert set(reports[:2]) == {("good", True), ("broken", False)}
    calls = provider.calls
    await asyncio.sleep(0.3)
    assert provider.calls == calls, "no probe after shutdown"
