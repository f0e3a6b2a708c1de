"""Fault injection: every fault, by header, path prefix or prompt marker, surfaces as botocore's exception."""

from __future__ import annotations

import time
import urllib.request

import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EventStreamError, ReadTimeoutError

from bedrock_proxy.emulator import EmulatorOptions, start_in_thread
from tests.emulator.conftest import HAIKU, make_client, user

ERROR_FAULTS = [
    ("throttling", "ThrottlingException", 429),
    ("validation", "ValidationException", 400),
    ("access-denied", "AccessDeniedException", 403),
    ("not-found", "ResourceNotFoundException", 404),
    ("model-timeout", "ModelTimeoutException", 408),
    ("model-not-ready", "ModelNotReadyException", 429),
    ("model-error", "ModelErrorException", 424),
    ("internal", "InternalServerException", 500),
    ("unavailable", "ServiceUnavailableException", 503),
    ("quota", "ServiceQuotaExceededException", 400),
    ("context-window", "ValidationException", 400),
]


def with_header(client, spec: str):
    """The client sends (and signs) `x-emulator: <spec>` on every call."""

    def add_header(request, **_):
        request.headers["x-emulator"] = spec

    client.meta.events.register_first("before-sign.*.*", add_header)
    return client


def carriers(emulator, fault_spec: str):
    """The same fault three ways: (client, prompt suffix)."""
    header_client = with_header(make_client("bedrock-runtime", emulator.url), fault_spec)
    prefix_client = make_client("bedrock-runtime", f"{emulator.url}/_emu/{fault_spec}")
    marker_client = make_client("bedrock-runtime", emulator.url)
    return [(header_client, ""), (prefix_client, ""), (marker_client, f" [[emu:{fault_spec}]]")]


@pytest.mark.parametrize(("fault", "code", "status"), ERROR_FAULTS)
def test_each_error_fault_raises_the_matching_botocore_exception_by_all_three_carriers(
    emulator, fault, code, status
):
    for client, suffix in carriers(emulator, f"fault={fault}"):
        with pytest.raises(getattr(client.exceptions, code)) as caught:
            client.converse(modelId=HAIKU, messages=user("hello" + suffix))
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert caught.value.response["Error"]["Message"]


def test_context_window_fault_has_bedrocks_text(runtime_at):
    with pytest.raises(ClientError, match=r"Input is too long for requested model\."):
        runtime_at("fault=context-window").converse(modelId=HAIKU, messages=user("hi"))


@pytest.mark.parametrize(("fault", "code", "status"), ERROR_FAULTS)
def test_error_faults_apply_to_streams_and_invoke_before_the_first_byte(runtime_at, fault, code, status):
    client = runtime_at(f"fault={fault}")
    with pytest.raises(getattr(client.exceptions, code)):
        client.converse_stream(modelId=HAIKU, messages=user("hello"))
    with pytest.raises(getattr(client.exceptions, code)):
        client.invoke_model(modelId="amazon.titan-embed-text-v2:0", body=b'{"inputText":"hello"}')


def test_reset_closes_the_connection_without_an_answer(emulator):
    for client, suffix in carriers(emulator, "fault=reset"):
        with pytest.raises(ConnectionClosedError):
            client.converse(modelId=HAIKU, messages=user("hello" + suffix))


def test_timeout_never_answers_until_the_client_gives_up(runtime_at):
    client = runtime_at("fault=timeout", Config(retries={"total_max_attempts": 1}, read_timeout=0.3))
    started = time.perf_counter()
    with pytest.raises(ReadTimeoutError):
        client.converse(modelId=HAIKU, messages=user("hello"))
    assert time.perf_counter() - started >= 0.3


def test_timeout_answers_model_timeout_after_the_cap():
    with start_in_thread(EmulatorOptions(timeout_cap=0.2)) as running:
        client = make_client("bedrock-runtime", f"{running.url}/_emu/fault=timeout")
        with pytest.raises(client.exceptions.ModelTimeoutException):
            client.converse(modelId=HAIKU, messages=user("hello"))


def test_slow_and_latency_delay_the_answer(runtime_at):
    for spec, least in (("fault=slow,latency=0.2", 0.2), ("latency=0.15", 0.15)):
        started = time.perf_counter()
        runtime_at(spec).converse(modelId=HAIKU, messages=user("hello"))
        assert time.perf_counter() - started >= least


GUARDRAIL = {"guardrailIdentifier": "gr-emu", "guardrailVersion": "1", "trace": "enabled"}


def test_guardrail_answers_200_with_the_blocked_message(runtime):
    response = runtime.converse(
        modelId=HAIKU, messages=user("hello [[emu:fault=guardrail]]"), guardrailConfig=GUARDRAIL
    )
    assert response["stopReason"] == "guardrail_intervened"
    assert (
        response["output"]["message"]["content"][0]["text"] == "Sorry, the model cannot answer this question."
    )


def test_the_guardrail_marker_without_a_guardrail_config_is_a_normal_answer(runtime):
    # no guardrail on the call: nothing to intervene (an account-wide guardrail is the path/header fault)
    response = runtime.converse(modelId=HAIKU, messages=user("hello [[emu:fault=guardrail]]"))
    assert response["stopReason"] == "end_turn"
    streamed = runtime.converse_stream(
        modelId=HAIKU, messages=user("hello [[emu:fault=guardrail]]"), guardrailConfig=GUARDRAIL
    )
    stops = [e["messageStop"]["stopReason"] for e in streamed["stream"] if "messageStop" in e]
    assert stops == ["guardrail_intervened"]


def test_the_path_guardrail_fault_intervenes_without_a_guardrail_config(runtime_at):
    response = runtime_at("fault=guardrail").converse(modelId=HAIKU, messages=user("hello"))
    assert response["stopReason"] == "guardrail_intervened"


@pytest.mark.parametrize(
    ("field", "value", "member"),
    [
        ("guardrailConfig", {"guardrailIdentifier": "gr", "guardrailVersion": ""}, "guardrailVersion"),
        ("guardrailConfig", {**GUARDRAIL, "trace": "loud"}, "guardrailConfig.trace"),
        ("serviceTier", {"type": "fastest"}, "serviceTier.type"),
        ("performanceConfig", {"latency": "instant"}, "performanceConfig.latency"),
    ],
)
def test_bad_request_features_are_validation_exceptions(runtime, field, value, member):
    with pytest.raises(ClientError) as caught:
        runtime.converse(modelId=HAIKU, messages=user("hello"), **{field: value})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert member in caught.value.response["Error"]["Message"]


def test_service_tier_and_latency_are_echoed_as_bedrock_reports_them(runtime):
    response = runtime.converse(
        modelId=HAIKU,
        messages=user("hello"),
        serviceTier={"type": "flex"},
        performanceConfig={"latency": "optimized"},
    )
    assert response["serviceTier"] == {"type": "flex"}
    assert response["performanceConfig"] == {"latency": "optimized"}
    streamed = runtime.converse_stream(
        modelId=HAIKU, messages=user("hello"), serviceTier={"type": "priority"}
    )
    metadata = [e["metadata"] for e in streamed["stream"] if "metadata" in e]
    assert metadata[0]["serviceTier"] == {"type": "priority"}
    assert "serviceTier" not in runtime.converse(modelId=HAIKU, messages=user("hello"))


def test_content_filtered_answers_200_with_its_stop_reason(runtime):
    events = list(
        runtime.converse_stream(modelId=HAIKU, messages=user("hello [[emu:fault=content-filtered]]"))[
            "stream"
        ]
    )
    assert [e["messageStop"]["stopReason"] for e in events if "messageStop" in e] == ["content_filtered"]
    assert runtime.converse(modelId=HAIKU, messages=user("hi [[emu:fault=content-filtered]]"))[
        "stopReason"
    ] == ("content_filtered")


def test_an_unknown_fault_is_a_validation_error_not_a_silent_success(runtime_at):
    with pytest.raises(ClientError, match="Unknown emulator fault 'nonsense'"):
        runtime_at("fault=nonsense").converse(modelId=HAIKU, messages=user("hello"))


def test_one_emulator_plays_a_healthy_and_a_failing_deployment_at_once(emulator, runtime_at):
    healthy = make_client("bedrock-runtime", emulator.url)
    failing = runtime_at("fault=unavailable")
    assert healthy.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"
    with pytest.raises(failing.exceptions.ServiceUnavailableException):
        failing.converse(modelId=HAIKU, messages=user("hi"))


def test_fault_rates_are_seeded_and_reproducible():
    outcomes = []
    for _ in range(2):
        options = EmulatorOptions(fault_rates={"throttling": 0.5}, seed=7)
        with start_in_thread(options) as running:
            client = make_client("bedrock-runtime", running.url)
            run = []
            for _ in range(20):
                try:
                    client.converse(modelId=HAIKU, messages=user("hi"))
                    run.append("ok")
                except client.exceptions.ThrottlingException:
                    run.append("throttled")
            outcomes.append(run)
            stats = _get(f"{running.url}/_emulator/stats")
            assert stats["by_fault"].get("throttling", 0) == run.count("throttled")
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0].count("throttled") < 20


def test_a_rate_of_one_fails_every_request():
    with start_in_thread(EmulatorOptions(fault_rates={"internal": 1.0}, seed=1)) as running:
        client = make_client("bedrock-runtime", running.url)
        for _ in range(3):
            with pytest.raises(client.exceptions.InternalServerException):
                client.converse(modelId=HAIKU, messages=user("hi"))


def _get(url: str, method: str = "GET") -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
        return orjson.loads(response.read())


def test_stats_count_requests_by_operation_model_and_fault_and_reset_zeroes_them():
    with start_in_thread() as running:
        assert _get(f"{running.url}/_emulator/health") == {"status": "ok"}
        client = make_client("bedrock-runtime", running.url)
        client.converse(modelId=HAIKU, messages=user("hi"))
        list(client.converse_stream(modelId=HAIKU, messages=user("hi"))["stream"])
        with pytest.raises(client.exceptions.ThrottlingException):
            client.converse(modelId=HAIKU, messages=user("hi [[emu:fault=throttling]]"))
        make_client("bedrock", running.url).list_foundation_models()
        stats = _get(f"{running.url}/_emulator/stats")
        assert stats["requests"] == 4
        assert stats["by_operation"] == {"Converse": 2, "ConverseStream": 1, "ListFoundationModels": 1}
        assert stats["by_model"] == {HAIKU: 3}
        assert stats["by_fault"] == {"throttling": 1}
        assert stats["by_status"] == {"200": 3, "429": 1}
        _get(f"{running.url}/_emulator/reset", method="POST")
        assert _get(f"{running.url}/_emulator/stats")["requests"] == 0


def test_control_plane_calls_take_faults_too(emulator):
    client = make_client("bedrock", f"{emulator.url}/_emu/fault=throttling")
    with pytest.raises(client.exceptions.ThrottlingException):
        client.list_foundation_models()


def test_stream_error_keys_combine_across_carriers(emulator):
    client = with_header(make_client("bedrock-runtime", emulator.url), "fault=stream-error,error=validation")
    response = client.converse_stream(
        modelId=HAIKU, messages=user("one two three four five six [[emu:after=1]]")
    )
    received = []
    with pytest.raises(EventStreamError) as caught:
        received.extend(response["stream"])
    assert caught.value.response["Error"]["Code"] == "validationException"
    assert sum("contentBlockDelta" in event for event in received) == 1


def test_stream_error_on_a_non_streaming_call_is_the_http_error(runtime_at):
    client = runtime_at("fault=stream-error,error=unavailable")
    with pytest.raises(client.exceptions.ServiceUnavailableException):
        client.converse(modelId=HAIKU, messages=user("hello"))


def test_slow_delays_the_first_byte_of_a_stream(runtime_at):
    started = time.perf_counter()
    response = runtime_at("fault=slow,latency=0.2").converse_stream(modelId=HAIKU, messages=user("hello"))
    assert time.perf_counter() - started >= 0.2
    assert list(response["stream"])[-1]["metadata"]["usage"]["outputTokens"] > 0
