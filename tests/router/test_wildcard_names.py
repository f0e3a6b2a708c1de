"""Anthropic's model names (what Claude Code sends) reach a configured group: exact names first, then
model_group_alias, then a wildcard model_name in config order; a key limited to a wildcard may use the names
it matches."""

from __future__ import annotations

import pytest

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.keys import KeyIdentity
from tests.router.support import HAIKU, SONNET, router

CONFIG = f"""
model_list:
  - model_name: claude-3-haiku
    litellm_params: {{model: bedrock/{HAIKU}}}
  - model_name: "claude-haiku-*"
    litellm_params: {{model: bedrock/{HAIKU}}}
  - model_name: "claude-*"
    litellm_params: {{model: bedrock/{SONNET}}}
router_settings:
  model_group_alias:
    claude-opus-4-8: claude-3-haiku
"""


@pytest.mark.parametrize(
    ("asked", "group"),
    [
        ("claude-3-haiku", "claude-3-haiku"),  # exact
        ("claude-opus-4-8", "claude-3-haiku"),  # alias before any wildcard
        ("claude-haiku-4-5-20251001", "claude-haiku-*"),  # the first wildcard that matches
        ("claude-sonnet-4-5-20250929", "claude-*"),
    ],
)
def test_a_name_resolves_to_its_group(asked: str, group: str) -> None:
    deployments = router(CONFIG).group(asked)
    assert {d.model_name for d in deployments} == {group}


def test_a_name_no_pattern_matches_is_a_404() -> None:
    with pytest.raises(GatewayError) as missing:
        router(CONFIG).group("gpt-4o")
    assert missing.value.status == 404 and missing.value.param == "model"


@pytest.mark.parametrize(
    ("models", "asked", "allowed"),
    [
        (frozenset({"claude-*"}), "claude-opus-4-8", True),
        (frozenset({"claude-*"}), "gpt-4o", False),
        (frozenset({"claude-3-haiku"}), "claude-3-haiku", True),
        (frozenset({"claude-3-haiku"}), "claude-3-haiku-x", False),
        (frozenset(), "anything", True),
    ],
)
def test_a_key_limited_to_a_wildcard_may_use_what_it_matches(
    models: frozenset[str], asked: str, allowed: bool
) -> None:
    assert KeyIdentity("k", "id", models=models).may_use(asked) is allowed
