"""Pre-call checks (router_settings.enable_pre_call_checks): keep a request off deployments whose context
window cannot hold it, so an oversize prompt goes to a model that can take it, or is refused here without
an upstream call, instead of costing a round trip to Bedrock to learn the same thing."""

from __future__ import annotations

from bedrock_proxy.config.windows import context_window
from bedrock_proxy.errors import ErrorCode, GatewayError

__all__ = ["context_window", "too_long_error"]  # context_window is config's: the file is judged by it too


def too_long_error(model_name: str, needed: int, window: int) -> GatewayError:
    """The 400 for a request no deployment of a model (nor its context_window_fallbacks) can hold."""
    return GatewayError(
        400,
        f"This request needs about {needed} tokens (estimated prompt plus max_tokens), more than the"
        f" context window of model '{model_name}' ({window} tokens). Shorten the messages or lower"
        " max_tokens.",
        type="invalid_request_error",
        param="messages",
        code=ErrorCode.CONTEXT_LENGTH_EXCEEDED,
    )
