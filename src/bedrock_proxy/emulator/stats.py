"""Request counters behind `/_emulator/stats`: by operation, model, injected fault and status.

Gateway tests read them to prove a request was sent exactly once (nothing lost, nothing answered twice).
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_operation: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.by_prefix: Counter[str] = Counter()

    def count(self, operation: str, model_id: str | None, prefix: str | None) -> None:
        self.requests += 1
        self.by_operation[operation] += 1
        if model_id is not None:
            self.by_model[model_id] += 1
        if prefix is not None:
            self.by_prefix[prefix] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_operation": dict(self.by_operation),
            "by_model": dict(self.by_model),
            "by_fault": dict(self.by_fault),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "by_prefix": dict(self.by_prefix),
        }
