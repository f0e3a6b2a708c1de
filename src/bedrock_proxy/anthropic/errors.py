"""The gateway's one error (GatewayError) in Anthropic's shape:
`{"type": "error", "error": {"type": ..., "message": ...}}`, with the same HTTP status.

One table decides the Anthropic error type: first by the error's code where the status alone says too
little (a 503 from an unavailable Bedrock is "overloaded", a client that closed is not an "api_error" of
ours), then by status. The SDKs retry on rate_limit_error / overloaded_error / api_error as Anthropic's.
An overloaded_error is answered with Anthropic's own status for it, 529, whatever the gateway's status was.
"""

from __future__ import annotations

from typing import Any

from bedrock_proxy.errors import ErrorCode, GatewayError

_BY_CODE: dict[ErrorCode, str] = {
    ErrorCode.BEDROCK_UNAVAILABLE: "overloaded_error",
    ErrorCode.BEDROCK_CONNECTION_ERROR: "overloaded_error",
    ErrorCode.DEPLOYMENTS_COOLING_DOWN: "overloaded_error",
    ErrorCode.BEDROCK_MODEL_NOT_READY: "overloaded_error",
    ErrorCode.MODEL_NOT_FOUND: "not_found_error",
    ErrorCode.BEDROCK_MODEL_NOT_FOUND: "not_found_error",
    ErrorCode.REQUEST_TOO_LARGE: "request_too_large",
}

_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(error: GatewayError) -> str:
    """Anthropic's error type for the gateway's error."""
    if error.code is not None and error.code in _BY_CODE:
        return _BY_CODE[error.code]
    return _BY_STATUS.get(error.status, "api_error")


OVERLOADED_STATUS = 529  # Anthropic's HTTP status for overloaded_error


def error_status(error: GatewayError) -> int:
    """The HTTP status Anthropic would answer the error with: 529 for overloaded, else the gateway's own."""
    return OVERLOADED_STATUS if error_type(error) == "overloaded_error" else error.status


def error_body(error: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(error), "message": error.message}}
