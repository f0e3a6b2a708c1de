"""Schemathesis over the gateway's own /openapi.json, against a real gateway process and the emulator: valid
and invalid requests to every route, generated from the document. No 5xx, every error OpenAI-shaped, the
gateway healthy after (issue 14's guard)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fuzz.support import FUZZ_EXAMPLES, MASTER_KEY, assert_no_5xx_and_openai_errors
from tests.gateway.conftest import call


@pytest.fixture(scope="module")
def gateway_schema(gateway_url: str) -> Iterator[schemathesis.BaseSchema]:
    loaded = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    loaded.config.update(base_url=gateway_url, headers={"Authorization": f"Bearer {MASTER_KEY}"})
    yield loaded


def check_case(case: schemathesis.Case) -> None:
    response = case.call(timeout=60)
    content_type = response.headers.get("content-type", "")
    assert_no_5xx_and_openai_errors(
        response.status_code,
        content_type[0] if isinstance(content_type, list) else content_type,
        response.content,
        f"{case.method} {case.path} {case.body!r:.300}",
        anthropic=case.path.startswith("/v1/messages"),
    )


# Every operation of the document, valid and invalid requests, drawn by hypothesis from the strategies
# schemathesis builds (its pytest integration, `schemathesis.pytest.from_fixture`, breaks on pytest 9.2,
# which dropped the node attribute it rewrites, so the operations are driven here)
# the document has ~45 operations since the management API (/key/*, /team/*, /user/*): the negative pass took
# 74 s alone and passed the suite's 120 s timeout in a whole run on the shared 2-core machine
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_route_answers_5xx_or_an_error_of_another_shape(
    gateway_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    operations = [result.ok() for result in gateway_schema.get_all_operations()]
    assert len(operations) > 20  # the whole document, not a fragment of it
    fuzzed = 0
    for operation in operations:

        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same examples every run of the normal suite
            database=None,
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            check_case(case)

        try:
            check()
        except Unsatisfiable:
            # nothing to make invalid (no body, no parameter: GET /health): no negative case
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        fuzzed += 1
    assert fuzzed >= 8, fuzzed  # every route that takes a body (chat, embeddings, responses, messages)


def test_the_gateway_is_healthy_after(gateway_url: str) -> None:
    assert call(f"{gateway_url}/health/liveliness", key=None)[0] == 200
    body = {"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Toujours là ?"}]}
    status, _, answer = call(f"{gateway_url}/v1/chat/completions", body)
    assert status == 200 and answer["choices"][0]["message"]["content"]
