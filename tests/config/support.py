"""Helpers for the config tests: the seed's model table as a model_list, and issue lookups."""

from __future__ import annotations

from collections.abc import Mapping

from bedrock_proxy.config import Config, ConfigIssue, inspect_text
from tests.support.seed import SEED_TABLE

SEED_MODELS = SEED_TABLE

SEED_MODEL_LIST = "model_list:\n" + "".join(
    f"  - model_name: {name}\n    litellm_params:\n      model: bedrock/{model_id}\n"
    "      aws_region_name: eu-west-1\n"
    for name, model_id in SEED_MODELS.items()
)
MASTER = "general_settings:\n  master_key: sk-1234\n"


def with_models(snippet: str, master: bool = False) -> str:
    """The snippet, preceded by the seed's model_list unless it has its own."""
    text = snippet if "model_list:" in snippet else SEED_MODEL_LIST + snippet
    return text + ("\n" + MASTER if master and "general_settings:" not in text else "")


def inspect(snippet: str, environ: Mapping[str, str] | None = None, master: bool = False) -> Config:
    return inspect_text(with_models(snippet, master), dict(environ or {}), "test.yaml")


def find(config: Config, level: str, path: str) -> list[ConfigIssue]:
    return [issue for issue in config.issues if issue.level == level and issue.path == path]


def describe(config: Config) -> str:
    return "\n".join(str(issue) for issue in config.issues)
