"""Keys the gateway reads but does not act on yet: each is reported at start-up by name, so nobody believes
a setting works when it does not. When one of them starts to take effect, remove it from here (a test in
tests/alerting/test_config_effects.py lists them)."""

from __future__ import annotations

from bedrock_proxy.config.issues import IssueLog
from bedrock_proxy.config.schema import Settings

# Settings field -> why it has no effect and what to use instead. Warned when the key is written in the file.
SETTINGS_WITHOUT_EFFECT: dict[str, str] = {
    "max_budget": (
        "has no effect yet: there is no proxy-wide budget; set spend_limit (or max_budget) on each "
        "general_settings.api_keys entry, or max_budget on a virtual key"
    ),
    "redact_user_api_key_info": (
        "has no effect yet: keys are never logged or traced, but a key's alias still appears in "
        "Langfuse traces and /metrics labels"
    ),
}
# Deployment default request params (litellm_params) that are accepted (LiteLLM configs carry them) but never
# applied to a request yet; config/deployments.py adds them to the params it knows.
UNAPPLIED_DEFAULT_PARAMS = (
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "n",
    "user",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "dimensions",
    "encoding_format",
)
DEFAULTS_WITHOUT_EFFECT = frozenset(UNAPPLIED_DEFAULT_PARAMS)


def check_settings_effects(settings: Settings, paths: dict[str, str], log: IssueLog) -> None:
    """Warn for every key in SETTINGS_WITHOUT_EFFECT that the file sets (to anything but false)."""
    for field_name, why in SETTINGS_WITHOUT_EFFECT.items():
        if field_name in paths and getattr(settings, field_name) not in (False, None):
            log.warning(paths[field_name], why)


def default_without_effect(key: str) -> str | None:
    """The warning for a litellm_params default that is not applied, else None."""
    if key not in DEFAULTS_WITHOUT_EFFECT:
        return None
    return (
        f"a default {key} has no effect yet: only max_tokens, temperature, top_p, top_k, stop, "
        f"reasoning_effort and thinking are applied from litellm_params; send {key} in the request instead"
    )
