"""Pre-call checks (router_settings.enable_pre_call_checks): keep a request off deployments whose context
window cannot hold it, so an oversize prompt goes to a model that can take it, or is refused here without
an upstream call, instead of costing a round trip to Bedrock to learn the same thing."""

from __future__ import annotations

from typing import Any

from bedrock_proxy.bedrock.capabilities import capabilities_for
from bedrock_proxy.errors import ErrorCode, GatewayError


def context_window(deployment: Any) -> int | None:
    """Tokens the deployment's model can hold: model_info.max_input_tokens when set, else the model's
    known window; None when unknown (such a deployment is never skipped) or for embedding models, whose
    request estimate sums a whole batch of separately counted inputs."""
    if getattr(deployment, "mode", "chat") == "embedding":
        return None
    declared = (deployment.model_info or {}).get("max_input_tokens")
    if isinstance(declared, int) and declared > 0:
        return declared
    return capabilities_for(deployment.model_id).context_window


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
