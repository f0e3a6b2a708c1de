from __future__ import annotations

from collections.abc import Iterator

import pytest

from bedrock_proxy.config.demo import DEMO_MODELS
from tests.support.processes import emulator_process, gateway_process
from tests.support.seed import SEED_TABLE
from tests.support.tls import TlsFiles, make_tls_files

# the seed's table, with the two ids that need an inference profile in eu-west-1 mapped as config.yaml does
SEED_MODELS = {
    **SEED_TABLE,
    "claude-3-5-sonnet": "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-opus": "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
}
# the seed's model names mapped exactly as config.yaml maps them: what the (region-faithful) emulator serves
CONFIG_MODELS = {name: model.removeprefix("bedrock/") for name, model in DEMO_MODELS.items()}


def seed_config(extra: str = "") -> str:
    """The seed's config shapes, every model of its tables, master key and team keys."""
    lines = ["model_list:"]
    for name, model_id in CONFIG_MODELS.items():
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: bedrock/{model_id}",
            "      aws_region_name: eu-west-1",
        ]
    lines += [
        "  - model_name: cohere-embed",
        "    litellm_params:",
        "      model: bedrock/cohere.embed-multilingual-v3",
        "      aws_region_name: eu-west-1",
        "general_settings:",
        "  master_key: sk-1234",
        "  api_keys:",
        "    - key: sk-team-a",
        "      spend_limit: 100",
        '      models: ["claude-3-5-sonnet", "claude-3-haiku"]',
        "    - key: sk-team-b",
        "      spend_limit: 50",
        '      models: ["titan-text-express"]',
    ]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with emulator_process() as url:
        yield url


@pytest.fixture(scope="session")
def gateway_url(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_process(seed_config(), tmp_path_factory.mktemp("gateway"), emulator_url=emulator_url) as url:
        yield url


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))
