"""GET /openapi.json: a valid OpenAPI 3.1 document that describes exactly the routes the gateway serves, the
request bodies it takes and the error shape it answers with (tests/fuzz/ fuzzes a real gateway from it)."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

from bedrock_proxy.server.app import PATTERN_ROUTES, PREFIX_ROUTES, ROUTES
from bedrock_proxy.server.openapi import DOCUMENT
from tests.gateway.conftest import call

SCHEMAS = DOCUMENT["components"]["schemas"]


def test_the_served_document_is_valid_openapi_3_1(gateway_url: str) -> None:
    status, headers, document = call(f"{gateway_url}/openapi.json", key=None)
    assert status == 200 and headers["content-type"] == "application/json"
    assert document["openapi"].startswith("3.1")
    validate(document)  # openapi-spec-validator: the 3.1 meta-schema, references resolved


def test_it_describes_every_route_and_no_other() -> None:
    described = {(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item}
    served = set(ROUTES) | {(method, f"{prefix}{{response_id}}") for method, prefix in PREFIX_ROUTES}
    served |= set(PATTERN_ROUTES)
    assert described == served


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}]}, True),
        ({"model": "claude-3-haiku", "messages": []}, False),
        ({"model": "claude-3-haiku", "messages": [{"role": [], "content": "x"}]}, False),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2**64}, False),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}, False),
    ],
    ids=["valid", "no-messages", "role-array", "max-tokens-beyond-64-bits", "temperature-3"],
)
def test_the_chat_schema_agrees_with_the_parser(gateway_url: str, body: dict, valid: bool) -> None:
    """What the schema accepts the gateway serves; what it refuses the gateway answers with a 400."""
    errors = list(jsonschema.Draft202012Validator(SCHEMAS["Chat"]).iter_errors(body))
    assert (not errors) is valid, errors
    status, _, answer = call(f"{gateway_url}/v1/chat/completions", body)
    assert (status == 200) is valid, answer


def test_errors_the_gateway_sends_match_the_documented_shape(gateway_url: str) -> None:
    for url, body in (
        (f"{gateway_url}/v1/chat/completions", {"model": 1}),
        (f"{gateway_url}/nowhere", None),
        (f"{gateway_url}/v1/embeddings", {"model": "unknown-model", "input": "x"}),
    ):
        status, _, answer = call(url, body)
        assert status >= 400
        jsonschema.validate(answer, SCHEMAS["Error"])
