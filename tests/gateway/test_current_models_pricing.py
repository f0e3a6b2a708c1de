"""The 2026 line-up through the gateway: an eu. and a global. profile of the same model cost the documented
ratio in the cost header and the spend record, and an application inference profile ARN is priced as the
model it wraps (learnt once from the emulator's GetInferenceProfile)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from bedrock_proxy.observability.pricing import GLOBAL_DISCOUNT
from tests.gateway.conftest import MASTER_KEY, call
from tests.support.processes import gateway_process

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
APP_PROFILE = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/teamsonnet45eu"
MODELS = {
    "sonnet-eu": f"eu.{SONNET_45}",
    "sonnet-global": f"global.{SONNET_45}",
    "team-sonnet": APP_PROFILE,
    "nova-2-lite-eu": "eu.amazon.nova-2-lite-v1:0",
    "nova-2-lite-global": "global.amazon.nova-2-lite-v1:0",
    "gpt-oss-120b": "openai.gpt-oss-120b-1:0",
}


def _config() -> str:
    lines = ["model_list:"]
    for name, model in MODELS.items():
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: bedrock/{model}",
            "      aws_region_name: eu-west-1",
        ]
    return "\n".join([*lines, "general_settings:", f"  master_key: {MASTER_KEY}", ""])


@pytest.fixture(scope="module")
def priced_gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("priced-gateway")
    # the control plane (GetInferenceProfile) is the emulator too
    env = {"AWS_BEDROCK_ENDPOINT": emulator_url}
    with gateway_process(_config(), tmp, emulator_url=emulator_url, env=env) as url:
        yield url


def _cost(url: str, model: str) -> tuple[float, int, int]:
    client = OpenAI(api_key=MASTER_KEY, base_url=f"{url}/v1", max_retries=0, timeout=60)
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "Quel temps fait-il à Dublin en décembre ?"}],
        max_tokens=50,
    )
    usage = raw.parse().usage
    assert usage is not None
    return float(raw.headers["x-bedrock-proxy-cost-usd"]), usage.prompt_tokens, usage.completion_tokens


@pytest.mark.parametrize(
    ("geo", "world"), [("sonnet-eu", "sonnet-global"), ("nova-2-lite-eu", "nova-2-lite-global")]
)
def test_a_global_profile_costs_the_documented_share_of_the_eu_profile(
    priced_gateway: str, geo: str, world: str
):
    eu_cost, eu_in, eu_out = _cost(priced_gateway, geo)
    global_cost, global_in, global_out = _cost(priced_gateway, world)
    assert (eu_in, eu_out) == (global_in, global_out) and eu_cost > 0
    assert global_cost == pytest.approx(eu_cost * GLOBAL_DISCOUNT, rel=1e-3)


def test_sonnet_4_5_through_its_eu_profile_costs_3_30_and_16_50_per_million(priced_gateway: str):
    cost, prompt, completion = _cost(priced_gateway, "sonnet-eu")
    assert cost == pytest.approx((prompt * 3.3 + completion * 16.5) / 1e6, rel=1e-3)


def test_an_application_profile_is_priced_as_the_model_it_wraps(priced_gateway: str):
    wrapped_cost, *_ = _cost(priced_gateway, "sonnet-eu")
    profile_cost, *_ = _cost(priced_gateway, "team-sonnet")
    assert profile_cost == pytest.approx(wrapped_cost, rel=1e-3)


def test_an_in_region_open_weights_model_is_served_and_priced(priced_gateway: str):
    cost, prompt, completion = _cost(priced_gateway, "gpt-oss-120b")
    assert cost == pytest.approx((prompt * 0.15 + completion * 0.6) / 1e6, rel=1e-3)


def test_the_spend_log_records_the_application_profiles_cost(priced_gateway: str):
    cost, *_ = _cost(priced_gateway, "team-sonnet")
    deadline = time.monotonic() + 15  # the ledger writes off the request path
    while True:
        status, _, body = call(f"{priced_gateway}/spend/logs")
        assert status == 200
        rows = body if isinstance(body, list) else body.get("data", [])
        spends = [row["spend"] for row in rows if row.get("model_id") == APP_PROFILE]
        if any(spend == pytest.approx(cost, rel=1e-6) for spend in spends) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any(spend == pytest.approx(cost, rel=1e-6) for spend in spends), rows
