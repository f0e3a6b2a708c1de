"""The seed's LLM-ops callbacks (wandb, helicone, lunary, promptlayer) end to end: a real gateway with the
callback on, requests through the OpenAI SDK, and the product's local fake (which checks the published
contract) receiving exactly one well-formed record per request, with model, messages, usage, cost, latency,
time to first token, user, session, tags and errors; and the fake down for 10 s loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from bedrock_proxy.observability.pricing import cost_for
from bedrock_proxy.observability.record import Usage
from tests.e2e.support import (
    CHAT_MODEL,
    CHAT_MODEL_ID,
    MASTER_KEY,
    REGION,
    Gateway,
    config_text,
    eventually,
    gateway,
    metric,
    metric_samples,
    new_id,
)
from tests.fakes.helicone_server import FakeHelicone
from tests.fakes.lunary_server import FakeLunary
from tests.fakes.promptlayer_server import FakePromptLayer
from tests.fakes.threaded import ThreadedFake
from tests.fakes.weave_server import FakeWeave
from tests.support.processes import clean_env

OUTAGE_SECONDS = 10.0


@dataclass
class Expected:
    """What the client sent and got, that the product must show."""

    request_id: str
    messages: list[dict[str, Any]]
    content: str | None
    usage: dict[str, int]
    cost: float | None
    user: str
    session: str
    tags: list[str]
    error: str | None
    stream: bool
    started: float
    ended: float


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------------------------------- W&B Weave
WANDB_KEY = "w" * 40


def weave_records(fake: ThreadedFake, request_id: str) -> list[dict[str, Any]]:
    return [c for c in fake.received if c["attributes"]["bedrock_proxy"]["request_id"] == request_id]


def weave_check(call: dict[str, Any], want: Expected) -> None:
    assert call["project_id"] == "e2e-entity/litellm-bedrock"
    assert call["attributes"]["weave"]["kind"] == "llm"
    gateway_facts = call["attributes"]["bedrock_proxy"]
    assert gateway_facts["model_group"] == CHAT_MODEL and gateway_facts["region"] == REGION
    assert call["inputs"]["model"] == CHAT_MODEL
    assert call["inputs"]["messages"] == want.messages
    assert want.error or call["inputs"]["temperature"] == 0.5
    assert call["attributes"]["user_id"] == want.user
    assert call["attributes"]["session_id"] == want.session and call["thread_id"] == want.session
    assert call["attributes"]["tags"] == want.tags
    started, ended = seconds(call["started_at"]), seconds(call["ended_at"])
    assert want.started - 1 <= started <= ended <= want.ended + 1
    assert gateway_facts["latency_ms"] == pytest.approx((ended - started) * 1000, abs=1)
    if want.error:
        assert call["exception"] == want.error
        assert call["summary"]["status_counts"] == {"success": 0, "error": 1}
        return
    assert call["exception"] is None
    assert call["output"]["content"] == want.content
    usage = call["summary"]["usage"][CHAT_MODEL_ID]
    assert usage["prompt_tokens"] == want.usage["prompt_tokens"]
    assert usage["completion_tokens"] == want.usage["completion_tokens"]
    assert usage["requests"] == 1
    assert gateway_facts["cost_usd"] == pytest.approx(want.cost, rel=1e-6)
    if want.stream:
        assert 0 <= gateway_facts["time_to_first_token_ms"] <= gateway_facts["latency_ms"]


# ---------------------------------------------------------------------------------------------- Helicone
HELICONE_KEY = "sk-helicone-e2e"


def helicone_records(fake: ThreadedFake, request_id: str) -> list[dict[str, Any]]:
    return [
        log for log in fake.received if log["body"]["providerRequest"]["meta"]["request_id"] == request_id
    ]


def helicone_time(point: dict[str, int]) -> float:
    return point["seconds"] + point["milliseconds"] / 1000


def helicone_check(log: dict[str, Any], want: Expected) -> None:
    body, headers = log["body"], log["headers"]
    assert log["path"] == "/custom/v1/log"
    request, response, timing = body["providerRequest"], body["providerResponse"], body["timing"]
    assert request["json"]["model"] == CHAT_MODEL
    assert request["json"]["messages"] == want.messages
    assert want.error or request["json"]["temperature"] == 0.5
    assert headers["helicone-user-id"] == want.user
    assert headers["helicone-session-id"] == want.session
    assert headers["helicone-property-tags"] == ",".join(want.tags)
    assert headers["helicone-property-request_id"] == want.request_id
    assert headers["helicone-property-region"] == REGION
    started, ended = helicone_time(timing["startTime"]), helicone_time(timing["endTime"])
    assert want.started - 1 <= started <= ended <= want.ended + 1
    if want.error:
        assert response["status"] == 400
        assert response["json"]["error"]["message"] == want.error
        return
    assert response["status"] == 200
    assert response["json"]["model"] == CHAT_MODEL_ID
    assert response["json"]["choices"][0]["message"]["content"] == want.content
    usage = response["json"]["usage"]
    assert usage["prompt_tokens"] == want.usage["prompt_tokens"]
    assert usage["completion_tokens"] == want.usage["completion_tokens"]
    assert float(headers["helicone-property-cost_usd"]) == pytest.approx(want.cost, rel=1e-6)
    if want.stream:
        assert 0 <= timing["timeToFirstToken"] <= (ended - started) * 1000 + 1
        assert request["json"]["stream"] is True


# ---------------------------------------------------------------------------------------------- Lunary
LUNARY_PROJECT = str(uuid.uuid4())


def lunary_records(fake: ThreadedFake, request_id: str) -> list[dict[str, Any]]:
    assert isinstance(fake, FakeLunary)
    return [
        run for run in fake.runs if run["metadata"]["request_id"] == request_id and run["status"] != "started"
    ]


def lunary_check(run: dict[str, Any], want: Expected) -> None:
    assert run["type"] == "llm" and run["runtime"] == "bedrock-proxy"
    assert run["name"] == CHAT_MODEL_ID  # what Lunary prices by
    assert run["params"]["model"] == CHAT_MODEL
    assert want.error or run["params"]["temperature"] == 0.5
    assert run["input"] == want.messages
    assert run["userId"] == want.user and run["tags"] == want.tags
    metadata = run["metadata"]
    assert metadata["session_id"] == want.session and metadata["region"] == REGION
    started, ended = seconds(run["createdAt"]), seconds(run["endedAt"])
    assert want.started - 1 <= started <= ended <= want.ended + 1
    assert metadata["latency_ms"] == pytest.approx((ended - started) * 1000, abs=1)
    if want.error:
        assert run["status"] == "error" and run["error"]["message"] == want.error
        return
    assert run["status"] == "success"
    assert run["output"]["content"] == want.content
    assert run["promptTokens"] == want.usage["prompt_tokens"]
    assert run["completionTokens"] == want.usage["completion_tokens"]
    assert metadata["cost_usd"] == pytest.approx(want.cost, rel=1e-6)
    if want.stream:
        assert 0 <= metadata["time_to_first_token_ms"] <= metadata["latency_ms"]


# ---------------------------------------------------------------------------------------------- PromptLayer
PROMPTLAYER_KEY = "pl_e2e_0123456789"


def promptlayer_records(fake: ThreadedFake, request_id: str) -> list[dict[str, Any]]:
    return [r for r in fake.received if r["metadata"]["request_id"] == request_id]


def blueprint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]


def promptlayer_check(logged: dict[str, Any], want: Expected) -> None:
    assert logged["provider"] == "amazon.bedrock"
    assert logged["model"] == CHAT_MODEL_ID
    assert logged["parameters"]["model_group"] == CHAT_MODEL
    assert want.error or logged["parameters"]["temperature"] == 0.5
    assert logged["input"] == {"type": "chat", "messages": blueprint(want.messages)}
    assert logged["tags"] == want.tags
    metadata = logged["metadata"]
    assert metadata["user_id"] == want.user and metadata["session_id"] == want.session
    assert metadata["region"] == REGION
    started, ended = logged["request_start_time"], logged["request_end_time"]
    assert want.started - 1 <= started <= ended <= want.ended + 1
    assert float(metadata["latency_ms"]) == pytest.approx((ended - started) * 1000, abs=1)
    if want.error:
        assert logged["status"] == "ERROR" and logged["error_message"] == want.error
        assert logged["error_type"] == "PROVIDER_ERROR"
        return
    assert logged["status"] == "SUCCESS"
    [answer] = logged["output"]["messages"]
    assert answer["role"] == "assistant" and answer["content"] == [{"type": "text", "text": want.content}]
    assert logged["input_tokens"] == want.usage["prompt_tokens"]
    assert logged["output_tokens"] == want.usage["completion_tokens"]
    assert logged["price"] == pytest.approx(want.cost, rel=1e-6)
    if want.stream:
        assert 0 <= float(metadata["time_to_first_token_ms"]) <= float(metadata["latency_ms"])


@dataclass
class Integration:
    callback: str
    make_fake: Callable[[], ThreadedFake]
    env: Callable[[ThreadedFake], dict[str, str]]
    records: Callable[[ThreadedFake, str], list[dict[str, Any]]]
    check: Callable[[dict[str, Any], Expected], None]
    messages: Callable[[dict[str, Any]], list[Any]]  # every prompt or answer text the record carries


INTEGRATIONS = [
    Integration(
        "wandb",
        lambda: FakeWeave(WANDB_KEY, default_entity="e2e-entity"),
        lambda fake: {
            "WANDB_API_KEY": WANDB_KEY,
            "WANDB_PROJECT": "litellm-bedrock",  # the seed's .env
            "WANDB_BASE_URL": fake.url,
        },
        weave_records,
        weave_check,
        lambda call: [call["inputs"].get("messages"), call.get("output")],
    ),
    Integration(
        "helicone",
        lambda: FakeHelicone(HELICONE_KEY),
        lambda fake: {"HELICONE_API_KEY": HELICONE_KEY, "HELICONE_API_BASE": fake.url},
        helicone_records,
        helicone_check,
        lambda log: [
            log["body"]["providerRequest"]["json"].get("messages"),
            *(c.get("message") for c in log["body"]["providerResponse"]["json"].get("choices", [])),
        ],
    ),
    Integration(
        "lunary",
        lambda: FakeLunary(LUNARY_PROJECT),
        lambda fake: {"LUNARY_PUBLIC_KEY": LUNARY_PROJECT, "LUNARY_API_URL": fake.url},
        lunary_records,
        lunary_check,
        lambda run: [run.get("input"), run.get("output")],
    ),
    Integration(
        "promptlayer",
        lambda: FakePromptLayer(PROMPTLAYER_KEY),
        lambda fake: {"PROMPTLAYER_API_KEY": PROMPTLAYER_KEY, "PROMPTLAYER_BASE_URL": fake.url},
        promptlayer_records,
        promptlayer_check,
        lambda logged: [*logged["input"]["messages"], *logged["output"]["messages"]],
    ),
]


# ---------------------------------------------------------------------------------------------- fixtures
@dataclass
class Setup:
    integration: Integration
    fake: ThreadedFake
    gateway: Gateway

    def client(self) -> OpenAI:
        return OpenAI(api_key=MASTER_KEY, base_url=f"{self.gateway.url}/v1", max_retries=0)

    def one_record(self, request_id: str) -> dict[str, Any]:
        """The request's record, once it arrived; and no second one a moment later."""
        eventually(
            lambda: self.integration.records(self.fake, request_id),
            message=f"no {self.integration.callback} record for {request_id}",
        )
        time.sleep(0.5)
        found = self.integration.records(self.fake, request_id)
        assert len(found) == 1, f"{len(found)} records for one request"
        return found[0]


@pytest.fixture(scope="module", params=INTEGRATIONS, ids=lambda i: i.callback)
def setup(
    request: pytest.FixtureRequest, emulator_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    integration: Integration = request.param
    fake = integration.make_fake()
    fake.start()
    settings = f"""  success_callback: ["{integration.callback}"]
  failure_callback: ["{integration.callback}"]
"""
    env = {**integration.env(fake), "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.5"}
    try:
        with gateway(
            config_text(settings),
            tmp_path_factory.mktemp(integration.callback),
            emulator_url=emulator_url,
            env=env,
        ) as running:
            yield Setup(integration, fake, running)
    finally:
        fake.stop()


def expected_cost(usage: dict[str, int]) -> float:
    costs = cost_for(CHAT_MODEL_ID, REGION, Usage(usage["prompt_tokens"], usage["completion_tokens"]))
    assert costs is not None
    return costs[0] + costs[1]


METADATA = {"user_id": "user-42", "session_id": "session-7", "tags": ["seed", "e2e"]}


def send_chat(setup: Setup, *, stream: bool) -> Expected:
    request_id = new_id()
    messages = [{"role": "user", "content": "Explique-moi l'IA en 3 phrases"}]
    started = time.time()
    common: dict[str, Any] = {
        "model": CHAT_MODEL,
        "messages": messages,
        "max_tokens": 200,
        "temperature": 0.5,
        "extra_body": {"metadata": METADATA},
        "extra_headers": {"x-request-id": request_id},
    }
    if stream:
        chunks = list(
            setup.client().chat.completions.create(
                stream=True, stream_options={"include_usage": True}, **common
            )
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = chunks[-1].usage
    else:
        completion = setup.client().chat.completions.create(**common)
        content = completion.choices[0].message.content
        usage = completion.usage
    assert usage is not None
    usage_dict = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    return Expected(
        request_id,
        messages,
        content,
        usage_dict,
        expected_cost(usage_dict),
        METADATA["user_id"],
        METADATA["session_id"],
        METADATA["tags"],
        None,
        stream,
        started,
        time.time(),
    )


# ---------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_chat_through_the_openai_sdk_is_one_well_formed_record_with_every_field(
    setup: Setup, stream: bool
) -> None:
    want = send_chat(setup, stream=stream)
    setup.integration.check(setup.one_record(want.request_id), want)
    assert setup.fake.counts["invalid"] == 0 and setup.fake.counts["unauthorized"] == 0


def test_a_failed_call_is_one_record_carrying_the_error(setup: Setup) -> None:
    request_id = new_id()
    messages = [{"role": "user", "content": "Bonjour [[emu:fault=validation]]"}]
    started = time.time()
    with pytest.raises(openai.BadRequestError) as raised:
        setup.client().chat.completions.create(
            model=CHAT_MODEL,
            messages=messages,  # type: ignore[arg-type]
            extra_body={"metadata": METADATA},
            extra_headers={"x-request-id": request_id},
        )
    body = raised.value.body
    message = body["message"] if isinstance(body, dict) and "message" in body else str(raised.value)
    want = Expected(
        request_id,
        messages,
        None,
        {},
        None,
        METADATA["user_id"],
        METADATA["session_id"],
        METADATA["tags"],
        message,
        False,
        started,
        time.time(),
    )
    setup.integration.check(setup.one_record(request_id), want)


def test_turn_off_message_logging_keeps_prompts_and_answers_out(setup: Setup) -> None:
    request_id = new_id()
    answer = setup.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Mon secret: 1234"}],
        extra_body={"metadata": {**METADATA, "turn_off_message_logging": True}},
        extra_headers={"x-request-id": request_id},
    )
    record = setup.one_record(request_id)
    assert not [m for m in setup.integration.messages(record) if m], "messages left the gateway"
    assert "1234" not in json.dumps(record)
    assert answer.choices[0].message.content and answer.choices[0].message.content not in json.dumps(record)


def test_the_product_down_for_ten_seconds_loses_nothing(setup: Setup) -> None:
    setup.fake.stop()
    try:
        sent = [send_chat(setup, stream=False) for _ in range(3)]
        time.sleep(OUTAGE_SECONDS)
    finally:
        setup.fake.start(setup.fake.port)
    for want in sent:
        setup.integration.check(setup.one_record(want.request_id), want)
    samples = metric_samples(setup.gateway.url)
    sink = setup.integration.callback
    assert metric(samples, "bedrock_proxy_sink_records_total", sink=sink, outcome="dropped") == 0
    assert metric(samples, "bedrock_proxy_sink_records_total", sink=sink, outcome="retried") > 0


# ---------------------------------------------------------------------------------------------- settings
SEED_CALLBACKS = ["langfuse", "wandb", "lunary", "helicone", "traceloop", "promptlayer"]
REQUIRED_VARIABLES = {
    "wandb": "WANDB_API_KEY",
    "lunary": "LUNARY_PUBLIC_KEY",
    "helicone": "HELICONE_API_KEY",
    "promptlayer": "PROMPTLAYER_API_KEY",
}
ALL_CALLBACKS = f"""  success_callback: {json.dumps(SEED_CALLBACKS)}
  failure_callback: {json.dumps(list(REQUIRED_VARIABLES))}
"""


def test_check_config_accepts_every_callback_the_seed_names(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(config_text(ALL_CALLBACKS))
    result = subprocess.run(
        [sys.executable, "-m", "bedrock_proxy", "check-config", "--config", str(config)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
    for callback, variable in REQUIRED_VARIABLES.items():
        assert f"the {callback} callback needs {variable}" in result.stdout


def test_without_credentials_the_gateway_starts_and_names_each_missing_variable(
    emulator_url: str, tmp_path: Path
) -> None:
    with gateway(config_text(ALL_CALLBACKS), tmp_path, emulator_url=emulator_url) as running:
        answer = OpenAI(
            api_key=MASTER_KEY, base_url=f"{running.url}/v1", max_retries=0
        ).chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": "Bonjour"}])
        assert answer.choices[0].message.content
        output = running.output()
    for callback, variable in REQUIRED_VARIABLES.items():
        assert f"{callback} callback disabled: the {callback} callback needs {variable}" in output


@pytest.mark.parametrize("integration", INTEGRATIONS, ids=lambda i: i.callback)
def test_sigterm_delivers_what_was_queued_while_the_product_was_down(
    integration: Integration, emulator_url: str, tmp_path: Path
) -> None:
    fake = integration.make_fake()
    fake.start()
    settings = f'  success_callback: ["{integration.callback}"]\n'
    env = {**integration.env(fake), "BEDROCK_PROXY_SINK_BACKOFF_MAX_SECONDS": "0.5"}
    try:
        with gateway(config_text(settings), tmp_path, emulator_url=emulator_url, env=env) as running:
            setup = Setup(integration, fake, running)
            fake.stop()
            sent = [send_chat(setup, stream=False) for _ in range(2)]
            time.sleep(1.0)  # both are being retried now
            fake.start(fake.port)
            running.stop()  # SIGTERM, as a container runtime sends
            output = running.output()
        for want in sent:
            integration.check(setup.one_record(want.request_id), want)
        assert "not delivered before shutdown" not in output
    finally:
        fake.stop()
