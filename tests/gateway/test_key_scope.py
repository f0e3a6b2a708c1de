"""A key's scope holds on every route, through real gateway processes and the emulator (issue 14):
fallbacks never take a scoped key to a model outside its `models` (finding 1), /health/models needs the
master key and reuses its results (3), /key/info is no oracle of which keys exist (8), and /metrics labels
only configured models, can require a key, and shows no key alias when public (9)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from openai import OpenAI

from tests.e2e.support import metric_samples
from tests.gateway.conftest import assert_openai_error, call, emulator_stats
from tests.support.processes import gateway_process

MASTER = "sk-scope-master-0123"
SCOPED = "sk-scope-team-4567"
OTHER = "sk-scope-other-8910"
SONNET_35_ID = "eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
LONG_PROMPT = "word " * 60_000  # far past titan-text-express's 8k-token context window


def config(emulator_url: str, settings: str = "") -> str:
    return f"""model_list:
  - model_name: titan-text-express
    litellm_params:
      model: bedrock/amazon.titan-text-express-v1
      aws_region_name: eu-west-1
  - model_name: claude-3-sonnet
    litellm_params:
      model: bedrock/anthropic.claude-3-sonnet-20240229-v1:0
      aws_region_name: eu-west-1
  - model_name: claude-3-5-sonnet
    litellm_params:
      model: bedrock/{SONNET_35_ID}
      aws_region_name: eu-west-1
  - model_name: throttled-haiku
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: eu-west-1
      aws_bedrock_runtime_endpoint: {emulator_url}/_emu/fault=throttling
router_settings:
  num_retries: 0
  context_window_fallbacks: [{{"titan-text-express": ["claude-3-5-sonnet"]}}]
  fallbacks: [{{"throttled-haiku": ["claude-3-5-sonnet"]}}]
  model_group_alias: {{"fast": "claude-3-5-sonnet"}}
general_settings:
  master_key: {MASTER}
  api_keys:
    - key: {SCOPED}
      alias: team-scoped
      models: ["claude-3-sonnet", "titan-text-express", "throttled-haiku"]
    - key: {OTHER}
      alias: team-other
{settings}"""


@pytest.fixture(scope="module")
def gateway(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    text = config(emulator_url)
    with gateway_process(text, tmp_path_factory.mktemp("scope"), emulator_url=emulator_url) as url:
        yield url


def client(gateway: str, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=f"{gateway}/v1", max_retries=0, timeout=60)


def sonnet_calls(emulator_url: str) -> int:
    return int(emulator_stats(emulator_url)["by_model"].get(SONNET_35_ID, 0))


# ------------------------------------------------------------------ finding 1: fallbacks stay in scope
ROUTES = [
    ("context_window_fallbacks", "titan-text-express", LONG_PROMPT, 400, "context_length_exceeded"),
    ("fallbacks", "throttled-haiku", "Bonjour", 429, "bedrock_throttled"),
]


@pytest.mark.parametrize(("kind", "model", "prompt", "status", "code"), ROUTES, ids=[r[0] for r in ROUTES])
def test_a_fallback_never_takes_a_scoped_key_to_a_model_it_may_not_use(
    gateway: str, emulator_url: str, kind: str, model: str, prompt: str, status: int, code: str
) -> None:
    before = sonnet_calls(emulator_url)
    with pytest.raises(openai.APIStatusError) as refused:
        client(gateway, SCOPED).chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=20
        )
    assert refused.value.status_code == status, refused.value.response.text
    assert_openai_error(refused.value.response.json(), code=code)
    assert sonnet_calls(emulator_url) == before, f"{kind} called claude-3-5-sonnet for a key without it"
    # the same request with the master key does fall back: the rule is the key's scope, nothing else
    answer = client(gateway, MASTER).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": prompt}], max_tokens=20
    )
    assert answer.headers["x-bedrock-proxy-fallback"] == "true"
    assert answer.headers["x-bedrock-proxy-model-id"] == SONNET_35_ID
    assert sonnet_calls(emulator_url) == before + 1


def test_an_alias_of_a_model_outside_the_keys_scope_is_refused_before_any_call(
    gateway: str, emulator_url: str
) -> None:
    before = emulator_stats(emulator_url)["requests"]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(gateway, SCOPED).chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "Bonjour"}]
        )
    assert_openai_error(refused.value.response.json(), code="model_not_allowed", param="model")
    assert emulator_stats(emulator_url)["requests"] == before


# ------------------------------------------------------------------ finding 3: deep health
def test_deep_health_needs_the_master_key_and_a_burst_of_calls_probes_bedrock_once(
    gateway: str, emulator_url: str
) -> None:
    before = emulator_stats(emulator_url)["requests"]
    for key in (SCOPED, OTHER):
        status, _, body = call(f"{gateway}/health/models", key=key)
        assert status == 403
        error = assert_openai_error(body, code="master_key_required")
        assert error["type"] == "permission_error" and "master key" in error["message"]
    status, _, body = call(f"{gateway}/health/models", key=None)
    assert status == 401
    assert emulator_stats(emulator_url)["requests"] == before, "a refused caller caused Bedrock calls"

    async def burst() -> list[tuple[int, dict, Any]]:
        return await asyncio.gather(
            *(asyncio.to_thread(call, f"{gateway}/health/models", key=MASTER) for _ in range(10))
        )

    answers = asyncio.run(burst()) + [call(f"{gateway}/health/models", key=MASTER) for _ in range(20)]
    after = emulator_stats(emulator_url)
    probes = after["requests"] - before
    assert probes == 4, f"30 calls to /health/models made {probes} Bedrock calls (one round is 4): {after}"
    assert {status for status, _, _ in answers} == {503}, [b for _, _, b in answers]  # haiku is throttled
    first = answers[0][2]
    assert first["healthy_count"] == 3 and first["unhealthy_count"] == 1
    assert all(body == first for _, _, body in answers), "every caller gets the same round's results"
    assert all(int(headers["age"]) <= 60 for _, headers, _ in answers), [h.get("age") for _, h, _ in answers]


# ------------------------------------------------------------------ finding 8: /key/info is no oracle
def test_key_info_answers_a_scoped_key_the_same_for_another_key_and_for_no_key(gateway: str) -> None:
    master_digest = hashlib.sha256(MASTER.encode()).hexdigest()
    other_digest = hashlib.sha256(OTHER.encode()).hexdigest()
    asked = [OTHER, other_digest, master_digest, MASTER, "sk-no-such-key", "0" * 64]
    answers = [call(f"{gateway}/key/info?key={value}", key=SCOPED) for value in asked]
    assert {status for status, _, _ in answers} == {403}
    assert len({str(body) for _, _, body in answers}) == 1, "the answers differ: they tell which keys exist"
    assert_openai_error(answers[0][2], code="not_your_key")
    # a key about itself, and the master key about any key, still get their answers
    assert call(f"{gateway}/key/info?key={SCOPED}", key=SCOPED)[0] == 200
    assert call(f"{gateway}/key/info?key={other_digest}", key=MASTER)[0] == 200
    assert call(f"{gateway}/key/info?key=sk-no-such-key", key=MASTER)[0] == 404


# ------------------------------------------------------------------ finding 9: /metrics
def test_metrics_label_only_configured_models_and_show_no_key_alias_when_public(gateway: str) -> None:
    sdk = client(gateway, OTHER)
    for index in range(30):
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(
                model=f"invented-model-{index}", messages=[{"role": "user", "content": "Bonjour"}]
            )
    sdk.chat.completions.create(model="claude-3-sonnet", messages=[{"role": "user", "content": "Bonjour"}])
    samples = metric_samples(gateway)  # public: scraped without a key
    groups = {labels["model_group"] for _, labels, _ in samples if "model_group" in labels}
    requested = {labels["requested_model"] for _, labels, _ in samples if "requested_model" in labels}
    assert not any(name.startswith("invented") for name in groups | requested)
    assert "unknown" in groups and "claude-3-sonnet" in groups
    assert groups <= {
        "unknown",
        "titan-text-express",
        "claude-3-sonnet",
        "claude-3-5-sonnet",
        "throttled-haiku",
        "fast",  # a configured alias
    }
    aliases = {labels["api_key_alias"] for _, labels, _ in samples if "api_key_alias" in labels}
    assert aliases and not aliases & {"team-scoped", "team-other", "master_key"}
    assert f"key-{hashlib.sha256(OTHER.encode()).hexdigest()[:8]}" in aliases


def test_metrics_can_require_a_key(emulator_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    text = config(emulator_url, "litellm_settings:\n  require_auth_for_metrics_endpoint: true\n")
    with gateway_process(text, tmp_path_factory.mktemp("metrics-auth"), emulator_url=emulator_url) as url:
        status, _, body = call(f"{url}/metrics", key=None)
        assert status == 401
        assert_openai_error(body, code="missing_api_key")
        assert call(f"{url}/metrics", key="sk-wrong")[0] == 401
        client(url, OTHER).chat.completions.create(
            model="claude-3-sonnet", messages=[{"role": "user", "content": "Bonjour"}]
        )
        status, _, text_body = call(f"{url}/metrics", key=OTHER)
        assert status == 200 and "bedrock_proxy_requests_total" in text_body
        assert 'api_key_alias="team-other"' in text_body, "behind a key, aliases are shown"


def test_the_anthropic_messages_route_keeps_fallbacks_in_the_keys_scope_too(
    gateway: str, emulator_url: str
) -> None:
    before = sonnet_calls(emulator_url)
    scoped = anthropic.Anthropic(api_key=SCOPED, base_url=gateway, max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        scoped.messages.create(
            model="throttled-haiku", max_tokens=20, messages=[{"role": "user", "content": "Bonjour"}]
        )
    assert sonnet_calls(emulator_url) == before, "/v1/messages fell back to a model the key may not use"
    master = anthropic.Anthropic(api_key=MASTER, base_url=gateway, max_retries=0)
    answer = master.messages.create(
        model="throttled-haiku", max_tokens=20, messages=[{"role": "user", "content": "Bonjour"}]
    )
    assert answer.content and sonnet_calls(emulator_url) == before + 1
