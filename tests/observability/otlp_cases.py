"""A table of CallRecords covering every branch of the Langfuse OTLP mapping, with fixed ids, for the pinned
export bytes in data/langfuse_otlp_golden.json (what main sent before the encoder was rewritten)."""

from __future__ import annotations

from typing import Any

from bedrock_proxy.observability.langfuse import LangfuseOptions
from bedrock_proxy.observability.record import CallRecord, Usage
from tests.observability.records import T0, attempt, record

GOLDEN = "data/langfuse_otlp_golden.json"

TOOL_OUTPUT = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "meteo", "arguments": '{"ville": "Lyon"}'}}
    ],
}


def cases() -> dict[str, tuple[list[CallRecord], LangfuseOptions]]:
    plain = LangfuseOptions()
    failed_attempts = (
        attempt(status=429, error_type="ThrottlingException", error_message="Too many requests"),
        attempt(deployment_id="claude-us-1", region="us-east-1", start_time=T0 + 0.2, end_time=T0 + 0.45),
        attempt(
            deployment_id="haiku-fallback",
            model_group="claude-3-haiku",
            start_time=T0 + 0.46,
            end_time=T0 + 0.49,
            is_fallback=True,
        ),
    )
    metadata: dict[str, Any] = {
        "user_id": "user-123",
        "session_id": "session-456",
        "tags": ["a", "b"],
        "environment": "Prod Europe",
        "trace_name": "support-bot",
        "trace_release": "1.2.3",
        "trace_version": "v7",
        "version": "g2",
        "generation_name": "answer",
        "generation_id": "gen-77",
        "trace_metadata": {"nested": {"k": [1, 2]}, "n": 3},
        "team": "search",
        "priority": 2,
        "flag": True,
        "ratio": 0.5,
        "list": ["x", 1],
        "trace_id": "my trace",
        "langfuse_ignored": "yes",
    }
    return {
        "small chat": (
            [
                record(
                    request_id="0b5e1c9d8a7f4e3b9c2d1a0f12345678",
                    input=[
                        {"role": "user", "content": 'Bonjour, comment vas-tu? \u00e9\u00e8 \u2603 "q" \\'}
                    ],
                    api_key_alias="master_key",
                    client_api="openai.chat",
                )
            ],
            plain,
        ),
        "stream, cache tokens, metadata": (
            [
                record(
                    request_id="req-stream-1",
                    stream=True,
                    first_token_time=T0 + 0.123456,
                    usage=Usage(
                        prompt_tokens=40, completion_tokens=9, cache_read_tokens=20, cache_write_tokens=5
                    ),
                    metadata=metadata,
                    user="openai-user",
                    output=TOOL_OUTPUT,
                    finish_reason="tool_calls",
                    client_api="anthropic.messages",
                    usage_estimated=True,
                )
            ],
            plain,
        ),
        "failure with retries and a fallback": (
            [
                record(
                    request_id="req-fail-1",
                    status=503,
                    error_type="ServiceUnavailableException",
                    error_message="Bedrock is unavailable",
                    cost=None,
                    input_cost=None,
                    output_cost=None,
                    output=None,
                    attempts=failed_attempts,
                    fallback_used=True,
                ),
                record(request_id="req-fail-2", status=400, error_type=None, error_message=None, attempts=()),
            ],
            plain,
        ),
        "existing trace, masks, embedding, cache hit": (
            [
                record(
                    request_id="req-existing-1",
                    metadata={
                        "existing_trace_id": "6f1c1d2e-9b0a-4c57-8a53-6c1e0e6b7a11",
                        "parent_observation_id": "p1",
                    },
                ),
                record(
                    request_id="req-existing-2", metadata={"existing_trace_id": "abc", "mask_input": "true"}
                ),
                record(request_id="req-mask", metadata={"mask_output": True, "tags": "solo"}),
                record(request_id="req-off", metadata={"turn_off_message_logging": True}),
                record(
                    request_id="req-embed",
                    kind="embedding",
                    model_group="titan-embed",
                    input=["un", "deux"],
                    output={"count": 2, "dimensions": 1024},
                    params={"dimensions": None, "encoding_format": "float"},
                    finish_reason=None,
                    attempts=(),
                ),
                record(request_id="req-cached", cache_hit=True, cost=0.0, input_cost=0.0, output_cost=0.0),
            ],
            plain,
        ),
        "environment, release and no messages from the options": (
            [
                record(request_id="req-options-1"),
                record(request_id="req-options-2", metadata={"environment": "dev"}),
            ],
            LangfuseOptions(turn_off_message_logging=True, environment="Staging", release="2026.12"),
        ),
    }
