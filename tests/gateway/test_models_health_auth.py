"""Model lists, model info without secrets, health endpoints (public) and the deep per-model check (keyed),
and who may call what: master key, api_keys limited to their models, Bearer or x-api-key."""

from __future__ import annotations

import pytest
from openai import OpenAI

from tests.conftest import CONFIG_MODELS
from tests.gateway.conftest import SONNET_V2_RAW_ID, assert_openai_error, call

ALL_MODELS = [*CONFIG_MODELS, "cohere-embed"]
CHAT = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}


@pytest.mark.parametrize("path", ["/v1/models", "/models"])
def test_model_lists_name_every_configured_model_in_openai_shape(gateway_url: str, path: str) -> None:
    status, _, body = call(f"{gateway_url}{path}")
    assert status == 200 and body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ALL_MODELS
    assert all(model["object"] == "model" and isinstance(model["created"], int) for model in body["data"])


def test_the_sdk_lists_only_the_models_of_a_limited_key(gateway_url: str) -> None:
    team_a = OpenAI(api_key="sk-team-a", base_url=f"{gateway_url}/v1", max_retries=0)
    assert sorted(model.id for model in team_a.models.list()) == ["claude-3-5-sonnet", "claude-3-haiku"]


@pytest.mark.parametrize("path", ["/model/info", "/v1/model/info"])
def test_model_info_describes_deployments_without_secrets(special_gateway_url: str, path: str) -> None:
    status, _, body = call(f"{special_gateway_url}{path}")
    assert status == 200
    text = str(body)
    assert "not-the-right-secret" not in text and "sk-1234" not in text
    entries = {entry["model_name"]: entry for entry in body["data"]}
    assert entries["claude-3-5-sonnet-v2"]["model_info"]["bedrock_model_id"] == SONNET_V2_RAW_ID
    assert entries["claude-3-haiku"]["model_info"]["supports_function_calling"] is True
    assert entries["claude-3-haiku"]["model_info"]["region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/health", {"status": "healthy"}),
        ("/health/liveliness", {"status": "alive"}),
        ("/health/liveness", {"status": "alive"}),
        ("/health/readiness", {"status": "ready", "models": len(ALL_MODELS)}),
    ],
)
def test_health_endpoints_are_public(gateway_url: str, path: str, expected: dict) -> None:
    status, _, body = call(f"{gateway_url}{path}", key=None)
    assert (status, body) == (200, expected)


def test_the_deep_model_check_needs_a_key(gateway_url: str) -> None:
    status, _, body = call(f"{gateway_url}/health/models", key=None)
    assert status == 401
    assert_openai_error(body, code="missing_api_key")


def test_the_deep_model_check_calls_every_seed_model(gateway_url: str) -> None:
    status, _, body = call(f"{gateway_url}/health/models")
    assert status == 200, body
    assert body["unhealthy_count"] == 0
    assert sorted(entry["model_name"] for entry in body["healthy_endpoints"]) == sorted(ALL_MODELS)


def test_the_deep_model_check_names_broken_deployments_and_why(special_gateway_url: str) -> None:
    status, _, body = call(f"{special_gateway_url}/health/models")
    assert status == 503
    problems = {entry["model_name"]: entry["error"] for entry in body["unhealthy_endpoints"]}
    assert set(problems) == {"wrong-secret", "claude-3-5-sonnet-v2"}
    assert "secret key" in problems["wrong-secret"]
    assert "model identifier is invalid" in problems["claude-3-5-sonnet-v2"]
    assert "not-the-right-secret" not in str(body)


# --- auth ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_api_key"),
        ({"Authorization": "Bearer sk-wrong"}, 401, "invalid_api_key"),
        ({"Authorization": "Basic sk-1234"}, 401, "malformed_authorization_header"),
        ({"Authorization": "sk-1234"}, 401, "malformed_authorization_header"),
        ({"Authorization": "Bearer "}, 401, "malformed_authorization_header"),
        ({"Authorization": "sk-1234", "x-api-key": "sk-1234"}, 200, None),
        ({"x-api-key": "sk-wrong"}, 401, "invalid_api_key"),
        ({"Authorization": "Bearer sk-1234"}, 200, None),
        ({"x-api-key": "sk-1234"}, 200, None),
        ({"Authorization": "Bearer sk-team-a"}, 200, None),
        ({"x-api-key": "sk-team-a"}, 200, None),
        ({"Authorization": "Bearer sk-team-b"}, 403, "model_not_allowed"),
    ],
    ids=[
        "no-key",
        "wrong-bearer",
        "basic-scheme",
        "key-without-bearer",
        "bearer-without-key",
        "x-api-key-beside-a-bare-authorization",
        "wrong-x-api-key",
        "master-bearer",
        "master-x-api-key",
        "team-bearer",
        "team-x-api-key",
        "team-other-model",
    ],
)
def test_chat_completions_check_the_key(
    gateway_url: str, headers: dict, status: int, code: str | None
) -> None:
    got, _, body = call(f"{gateway_url}/v1/chat/completions", CHAT, key=None, headers=headers)
    assert got == status, body
    if code:
        error = assert_openai_error(body, code=code)
        assert "sk-1234" not in error["message"] and "sk-wrong" not in error["message"]
        assert error["type"] == ("authentication_error" if status == 401 else "permission_error")
        if code == "malformed_authorization_header":  # the hint shows the form that works
            assert "Authorization: Bearer sk-..." in error["message"] and "x-api-key" in error["message"]


def test_a_limited_key_is_told_which_models_it_may_use(gateway_url: str) -> None:
    status, _, body = call(
        f"{gateway_url}/v1/embeddings", {"model": "titan-embed-text-v2", "input": "x"}, key="sk-team-b"
    )
    assert status == 403
    error = assert_openai_error(body, code="model_not_allowed", param="model")
    assert "titan-text-express" in error["message"] and error["type"] == "permission_error"


def test_the_sdk_sees_a_bad_key_as_an_authentication_error(gateway_url: str) -> None:
    import openai

    bad = OpenAI(api_key="sk-nope", base_url=f"{gateway_url}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(**CHAT)
    assert caught.value.status_code == 401 and caught.value.body["type"] == "authentication_error"


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/chat/completions"])
def test_routes_that_cost_money_need_a_key_even_with_a_bad_body(gateway_url: str, path: str) -> None:
    status, _, body = call(f"{gateway_url}{path}", raw=b"{not json", key=None)
    assert status == 401
    assert_openai_error(body, code="missing_api_key")
