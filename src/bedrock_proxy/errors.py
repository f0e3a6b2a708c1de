"""The one error type clients see, and the one place Bedrock's errors are mapped to it.

Every failure the gateway reports, whatever layer raised it, reaches the client as
`{"error": {"message", "type", "param", "code"}}` with an HTTP status that says who must act.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bedrock_proxy.bedrock.availability import advice_for

Header = tuple[bytes, bytes]


class ErrorCode(StrEnum):
    """Every `error.code` the gateway sends: produced and matched only through these names."""

    # the request
    INVALID_JSON = "invalid_json"
    REQUEST_TOO_LARGE = "request_too_large"
    UNSUPPORTED_CONTENT_ENCODING = "unsupported_content_encoding"
    INVALID_CONTENT_ENCODING = "invalid_content_encoding"
    INVALID_HTTP_REQUEST = "invalid_http_request"
    REQUEST_HEADER_FIELDS_TOO_LARGE = "request_header_fields_too_large"
    REQUEST_HEADER_TIMEOUT = "request_header_timeout"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_IMAGES = "too_many_images"
    CONFLICTING_API_KEYS = "conflicting_api_keys"
    INVALID_IMAGE_URL = "invalid_image_url"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    MODEL_NOT_FOUND = "model_not_found"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CLIENT_CLOSED_REQUEST = "client_closed_request"
    # keys, budgets and the spend routes
    MALFORMED_AUTHORIZATION_HEADER = "malformed_authorization_header"
    MISSING_API_KEY = "missing_api_key"
    INVALID_API_KEY = "invalid_api_key"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    TEAM_MODEL_ACCESS_DENIED = "team_model_access_denied"  # LiteLLM's type for a model outside the team's
    MODELS_OUTSIDE_TEAM = "models_outside_team"  # /key/generate, /key/update: models the team may not use
    INSUFFICIENT_QUOTA = "insufficient_quota"
    MASTER_KEY_REQUIRED = "master_key_required"
    MISSING_KEY = "missing_key"
    KEY_NOT_FOUND = "key_not_found"
    NOT_YOUR_KEY = "not_your_key"
    SPEND_LOGS_DISABLED = "spend_logs_disabled"
    KEY_BLOCKED = "key_blocked"
    KEY_EXPIRED = "key_expired"
    TEAM_BLOCKED = "team_blocked"
    KEY_MANAGEMENT_OFF = "key_management_off"
    TEAM_NOT_FOUND = "team_not_found"
    USER_NOT_FOUND = "user_not_found"
    ALREADY_EXISTS = "already_exists"
    # rate limits and deployment health
    RPM_LIMIT_EXCEEDED = "rpm_limit_exceeded"
    TPM_LIMIT_EXCEEDED = "tpm_limit_exceeded"
    MAX_PARALLEL_REQUESTS_EXCEEDED = "max_parallel_requests_exceeded"
    KEY_RPM_LIMIT_EXCEEDED = "key_rpm_limit_exceeded"
    KEY_TPM_LIMIT_EXCEEDED = "key_tpm_limit_exceeded"
    TEAM_RPM_LIMIT_EXCEEDED = "team_rpm_limit_exceeded"
    TEAM_TPM_LIMIT_EXCEEDED = "team_tpm_limit_exceeded"
    USER_RPM_LIMIT_EXCEEDED = "user_rpm_limit_exceeded"
    USER_TPM_LIMIT_EXCEEDED = "user_tpm_limit_exceeded"
    DEPLOYMENT_LIMIT_EXCEEDED = "deployment_limit_exceeded"
    DEPLOYMENTS_COOLING_DOWN = "deployments_cooling_down"
    SHARED_STATE_UNAVAILABLE = "shared_state_unavailable"  # redis_fail_mode: closed, and Redis is down
    # reaching Bedrock
    AWS_CREDENTIALS = "aws_credentials"
    REQUEST_TIMEOUT = "request_timeout"
    BEDROCK_CONNECTION_ERROR = "bedrock_connection_error"
    BEDROCK_BAD_RESPONSE = "bedrock_bad_response"
    BEDROCK_EMPTY_STREAM = "bedrock_empty_stream"
    BEDROCK_STREAM_ERROR = "bedrock_stream_error"
    # Bedrock's own errors, one per exception (see _BEDROCK_ERRORS)
    BEDROCK_VALIDATION_ERROR = "bedrock_validation_error"
    BEDROCK_QUOTA_EXCEEDED = "bedrock_quota_exceeded"
    BEDROCK_ACCESS_DENIED = "bedrock_access_denied"
    BEDROCK_INVALID_CREDENTIALS = "bedrock_invalid_credentials"
    BEDROCK_EXPIRED_CREDENTIALS = "bedrock_expired_credentials"
    BEDROCK_MODEL_NOT_FOUND = "bedrock_model_not_found"
    BEDROCK_MODEL_TIMEOUT = "bedrock_model_timeout"
    BEDROCK_THROTTLED = "bedrock_throttled"
    BEDROCK_MODEL_NOT_READY = "bedrock_model_not_ready"
    BEDROCK_MODEL_ERROR = "bedrock_model_error"
    BEDROCK_MODEL_STREAM_ERROR = "bedrock_model_stream_error"
    BEDROCK_INTERNAL_ERROR = "bedrock_internal_error"
    BEDROCK_UNAVAILABLE = "bedrock_unavailable"
    BEDROCK_ERROR = "bedrock_error"  # a Bedrock error this table does not know
    # the gateway itself
    INTERNAL_ERROR = "internal_error"
    NO_OUTCOME = "no_outcome"
    STORED_RESPONSES_UNAVAILABLE = "stored_responses_unavailable"  # the Responses API's database


class GatewayError(Exception):
    """An error written for the user who will read it: status, OpenAI type, message, param and code.

    Built complete where it is raised and not changed afterwards: `with_message` returns a new error.
    `headers` are sent with the error response (for example `x-should-retry: false`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: ErrorCode | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        upstream: str | None = None,
        headers: tuple[Header, ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.upstream = upstream  # Bedrock's exception name when the error came from Bedrock
        self.headers = headers

    def with_message(self, message: str) -> GatewayError:
        """The same error saying `message` instead, so that no raised error is rewritten in place."""
        return GatewayError(
            self.status,
            message,
            type=self.type,
            param=self.param,
            code=self.code,
            retryable=self.retryable,
            retry_after=self.retry_after,
            upstream=self.upstream,
            headers=self.headers,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def __repr__(self) -> str:
        return f"GatewayError({self.status}, {self.message!r}, type={self.type!r}, code={self.code!r})"


def invalid_request(message: str, param: str | None = None, code: ErrorCode | None = None) -> GatewayError:
    return GatewayError(400, message, type="invalid_request_error", param=param, code=code)


@dataclass(frozen=True, slots=True)
class _Mapping:
    status: int
    type: str
    code: ErrorCode
    retryable: bool
    advice: str


# Bedrock exception name -> what the client gets. Statuses follow the gateway issue: validation 400,
# access denied 403, not found 404, throttling 429, timeouts 408, unavailable 503.
_BEDROCK_ERRORS: dict[str, _Mapping] = {
    "ValidationException": _Mapping(
        400, "invalid_request_error", ErrorCode.BEDROCK_VALIDATION_ERROR, False, ""
    ),
    "ServiceQuotaExceededException": _Mapping(
        429,
        "rate_limit_error",
        ErrorCode.BEDROCK_QUOTA_EXCEEDED,
        False,
        " Ask AWS for a higher Bedrock service quota or lower the request rate.",
    ),
    "AccessDeniedException": _Mapping(
        403,
        "permission_error",
        ErrorCode.BEDROCK_ACCESS_DENIED,
        False,
        " Grant the gateway's IAM identity bedrock:InvokeModel on this model and request model access in the"
        " Bedrock console for this region.",
    ),
    "UnrecognizedClientException": _Mapping(
        403,
        "permission_error",
        ErrorCode.BEDROCK_INVALID_CREDENTIALS,
        False,
        " The gateway's AWS credentials were rejected: check the instance profile or the aws_* keys.",
    ),
    "InvalidSignatureException": _Mapping(
        403,
        "permission_error",
        ErrorCode.BEDROCK_INVALID_CREDENTIALS,
        False,
        " The gateway's AWS request signature was rejected: check the secret key and the host clock.",
    ),
    "ExpiredTokenException": _Mapping(
        403,
        "permission_error",
        ErrorCode.BEDROCK_EXPIRED_CREDENTIALS,
        False,
        " The gateway's AWS session token expired: refresh the credentials.",
    ),
    "ResourceNotFoundException": _Mapping(
        404,
        "not_found_error",
        ErrorCode.BEDROCK_MODEL_NOT_FOUND,
        False,
        " Check the Bedrock model id in config.yaml and that the model is offered in this region.",
    ),
    "ModelTimeoutException": _Mapping(
        408, "timeout_error", ErrorCode.BEDROCK_MODEL_TIMEOUT, True, " Retry, or send a shorter request."
    ),
    "ThrottlingException": _Mapping(
        429,
        "rate_limit_error",
        ErrorCode.BEDROCK_THROTTLED,
        True,
        " Bedrock is throttling this model: retry after a pause, or add deployments or fallbacks.",
    ),
    "ModelNotReadyException": _Mapping(
        429,
        "rate_limit_error",
        ErrorCode.BEDROCK_MODEL_NOT_READY,
        True,
        " The model is warming up: retry shortly.",
    ),
    "ModelErrorException": _Mapping(424, "api_error", ErrorCode.BEDROCK_MODEL_ERROR, False, ""),
    "ModelStreamErrorException": _Mapping(424, "api_error", ErrorCode.BEDROCK_MODEL_STREAM_ERROR, True, ""),
    "InternalServerException": _Mapping(
        500, "api_error", ErrorCode.BEDROCK_INTERNAL_ERROR, True, " Bedrock failed internally: retry."
    ),
    "ServiceUnavailableException": _Mapping(
        503,
        "service_unavailable_error",
        ErrorCode.BEDROCK_UNAVAILABLE,
        True,
        " Bedrock is unavailable: retry later or configure a fallback.",
    ),
}

_CREDENTIAL_ERRORS = frozenset(
    {
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "AccessDeniedException",
    }
)

_FALLBACK_BY_STATUS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    503: "ServiceUnavailableException",
}


def normalise_exception_name(name: str) -> str:
    """Event streams say `throttlingException`, headers `ThrottlingException:http://...`: one spelling."""
    name = name.split(":", 1)[0].split("#")[-1].strip()
    return name[:1].upper() + name[1:]


def from_bedrock(
    name: str | None,
    message: str,
    status: int = 0,
    *,
    model_id: str = "",
    region: str = "",
    retry_after: float | None = None,
) -> GatewayError:
    """Map a Bedrock error (exception name, message, HTTP status) to what the client gets.

    `model_id` and `region` (the deployment's) let a refused model id come with the id to use instead;
    `retry_after` is the seconds Bedrock's Retry-After header asked for.
    """
    exception = normalise_exception_name(name) if name else _FALLBACK_BY_STATUS.get(status, "")
    if exception in _CREDENTIAL_ERRORS:
        # AWS appends the canonical request to signature errors, and it carries the session token
        message = message.split("\n", 1)[0]
    mapping = _BEDROCK_ERRORS.get(exception)
    if mapping is None:
        mapping = _BEDROCK_ERRORS["InternalServerException"] if status >= 500 or not status else None
        if mapping is None:
            mapping = _Mapping(status, "api_error", ErrorCode.BEDROCK_ERROR, False, "")
    text = f"Bedrock {exception or 'error'}: {message.rstrip('.')}." + mapping.advice
    if exception == "ValidationException":
        text += _where_to_call(message, model_id, region)
    if exception == "ValidationException" and _is_context_window_error(message):
        return GatewayError(
            400,
            text,
            type="invalid_request_error",
            code=ErrorCode.CONTEXT_LENGTH_EXCEEDED,
            retry_after=retry_after,
            upstream=exception,
        )
    return GatewayError(
        mapping.status,
        text,
        type=mapping.type,
        code=mapping.code,
        retryable=mapping.retryable,
        retry_after=retry_after,
        upstream=exception or None,
    )


def _where_to_call(message: str, model_id: str, region: str) -> str:
    """Advice for a model id Bedrock refused in this region, from the availability table when it knows."""
    lowered = message.lower()
    on_demand = "on-demand throughput" in lowered
    if not (on_demand or "model identifier is invalid" in lowered):
        return ""
    advice = advice_for(model_id, region) if model_id and region else ""
    if advice:
        return f" {advice[:1].upper()}{advice[1:]}."
    if on_demand:
        where = f" --region {region}" if region else ""
        return (
            " Use an inference profile id that contains this model in config.yaml"
            f" (aws bedrock list-inference-profiles{where} lists them)."
        )
    return ""


def _is_context_window_error(message: str) -> bool:
    lowered = message.lower()
    return any(
        marker in lowered
        for marker in ("too long", "context window", "context length", "input token count exceeds")
    )


def timeout_error(seconds: float, what: str = "Bedrock") -> GatewayError:
    return GatewayError(
        408,
        f"{what} did not answer within {seconds:g} s. Retry, raise request_timeout in config.yaml,"
        " or send a shorter request.",
        type="timeout_error",
        code=ErrorCode.REQUEST_TIMEOUT,
        retryable=True,
        upstream="Timeout",
    )


def connection_error(detail: str) -> GatewayError:
    return GatewayError(
        503,
        f"Could not reach Bedrock: {detail}. Check the network path and aws_bedrock_runtime_endpoint.",
        type="service_unavailable_error",
        code=ErrorCode.BEDROCK_CONNECTION_ERROR,
        retryable=True,
        upstream="ConnectionError",
    )
