"""CallRecords for tests: a plausible successful chat call, overridable field by field."""

from __future__ import annotations

import itertools
from typing import Any

from bedrock_proxy.observability.record import Attempt, CallRecord, Usage

_ids = itertools.count(1)
T0 = 1_760_000_000.0


def attempt(**overrides: Any) -> Attempt:
    fields: dict[str, Any] = {
        "deployment_id": "claude-eu-1",
        "model_group": "claude-3-5-sonnet",
        "bedrock_model_id": "eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "region": "eu-west-1",
        "start_time": T0 + 0.001,
        "end_time": T0 + 0.5,
        "status": 200,
    }
    fields.update(overrides)
    return Attempt(**fields)


def record(**overrides: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "request_id": f"req-{next(_ids)}",
        "kind": "chat",
        "model_group": "claude-3-5-sonnet",
        "deployment_id": "claude-eu-1",
        "bedrock_model_id": "eu.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "region": "eu-west-1",
        "start_time": T0,
        "end_time": T0 + 0.5,
        "status": 200,
        "upstream_latency": 0.49,
        "usage": Usage(prompt_tokens=12, completion_tokens=9),
        "cost": 0.000171,
        "input_cost": 0.000036,
        "output_cost": 0.000135,
        "input": [{"role": "user", "content": "Bonjour"}],
        "output": {"role": "assistant", "content": "Salut"},
        "finish_reason": "stop",
        "params": {"temperature": 0.7, "max_tokens": 1024},
        "attempts": (attempt(),),
    }
    fields.update(overrides)
    return CallRecord(**fields)
