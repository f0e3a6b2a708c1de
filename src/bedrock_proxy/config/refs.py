"""Model names that settings refer to, remembered with their path so each can be checked once all are read.

Fallbacks, api key model lists, aliases and default fallbacks may be written before or after model_list;
the check that each name exists runs at the end, when every name is known.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NameRef:
    path: str
    name: str
    role: str  # "fallback source" | "fallback target" | "default fallback" | "api key model" | "alias target"
    source: str | None = None  # for a fallback target: the model it is a fallback of
    table: str | None = None  # for fallbacks: the setting they were read from (`context_window_fallbacks`)
