"""What the router does with an error: retry it, count it against the deployment, fall back, or give up.

One table for every decision, so retries, cooldowns and fallbacks agree on what an error means.
"""

from __future__ import annotations

import random

from bedrock_proxy.errors import ErrorCode, GatewayError

CONTEXT_WINDOW = "context_window"
CONTENT_POLICY = "content_policy"
FALLBACK_TABLES = {
    None: "fallbacks",
    CONTEXT_WINDOW: "context_window_fallbacks",
    CONTENT_POLICY: "content_policy_fallbacks",
}
# errors about one deployment (its credentials, its model access, its id in that region): another
# deployment of the same group may well succeed, the same one will not.
DEPLOYMENT_STATUSES = frozenset({401, 403, 404})
BACKOFF_CAP = 8.0


def retry_class(error: GatewayError) -> str:
    """The LiteLLM retry_policy name an error falls under."""
    status = error.status
    if status == 429:
        return "RateLimitError"
    if status == 408 or error.upstream == "Timeout":
        return "TimeoutError"
    if status in (401, 403):
        return "AuthenticationError"
    if status >= 500 or error.retryable:
        return "InternalServerError"
    return "BadRequestError"


def is_deployment_failure(error: GatewayError) -> bool:
    """Counts towards allowed_fails: the deployment, not the request, is at fault."""
    return (
        error.retryable or error.status in DEPLOYMENT_STATUSES or error.status == 429 or error.status >= 500
    )


def fallback_table(error: GatewayError) -> str | None:
    """The Settings fallback table an error sends the request to, or None when it falls back nowhere.

    A request the client must fix (validation, too large) falls back nowhere, except a context-window
    error, which is what context_window_fallbacks exist for.
    """
    if error.code == ErrorCode.CONTEXT_LENGTH_EXCEEDED:
        return FALLBACK_TABLES[CONTEXT_WINDOW]
    if error.status in (400, 413, 422):
        return None
    return FALLBACK_TABLES[None]


def backoff(retry_index: int, base: float, floor: float, retry_after: float | None) -> float:
    """Exponential backoff with equal jitter, at least `floor` (the retry_after setting) and at least the
    upstream's Retry-After."""
    delay = min(base * (2**retry_index), BACKOFF_CAP)
    delay = delay / 2 + random.random() * delay / 2
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay if delay > floor else floor
