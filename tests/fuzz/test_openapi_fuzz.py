"""Schemathesis over the gateway's own /openapi.json, against a real gateway process and the emulator: valid
and invalid requests to every route, generated from the document. No 5xx, every error OpenAI-shaped, the
gateway healthy after (issue 14's guard)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.fuzz.support import FUZZ_EXAMPLES, FUZZ_PHASES, MASTER_KEY, assert_no_5xx_and_openai_errors
from tests.gateway.conftest import call


@pytest.fixture(scope="module")
def gateway_schema(gateway_url: str) -> Iterator[schemathesis.BaseSchema]:
    loaded = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    loaded.config.update(base_url=gateway_url, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=FUZZ_EXAMPLES
    )
    # the examples and fuzzing phases, bounded by FUZZ_EXAMPLES; the coverage phase (every boundary of every
    # field, thousands of requests) is for release runs: BEDROCK_PROXY_FUZZ_PHASES=examples,coverage,fuzzing
    loaded.config.phases.update(phases=FUZZ_PHASES)
    yield loaded


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run of the normal suite; a release run may vary them
)
def test_no_route_answers_5xx_or_an_error_of_another_shape(case: schemathesis.Case) -> None:
    response = case.call(timeout=60)
    assert_no_5xx_and_openai_errors(
        response.status_code,
        response.headers.get("content-type", [""])[0]
        if isinstance(response.headers.get("content-type"), list)
        else response.headers.get("content-type", ""),
        response.content,
        f"{case.method} {case.path} {case.body!r:.300}",
        anthropic=case.path.startswith("/v1/messages"),
    )


def test_the_gateway_is_healthy_after(gateway_url: str) -> None:
    assert call(f"{gateway_url}/health/liveliness", key=None)[0] == 200
    body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Toujours là ?"}]}
    status, _, answer = call(f"{gateway_url}/v1/chat/completions", body)
    assert status == 200 and answer["choices"][0]["message"]["content"]
