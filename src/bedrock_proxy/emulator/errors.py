"""Bedrock's error answers: HTTP status, `x-amzn-ErrorType` and the message text Bedrock writes.

An `EmulatorError` raised anywhere while handling a request becomes exactly the response Bedrock would
give, so botocore raises the same exception class it raises against AWS.
"""

from __future__ import annotations

from dataclasses import dataclass


class EmulatorError(Exception):
    """A Bedrock error answer: status, exception name (x-amzn-ErrorType) and message."""

    def __init__(self, status: int, code: str, message: str, *, error_type_suffix: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error_type_suffix = error_type_suffix  # AWS adds ":http://internal.amazon.com/coral/..." to some


def validation(message: str) -> EmulatorError:
    return EmulatorError(400, "ValidationException", message)


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int
    code: str
    message: str
    stream_type: str  # the event-stream `:exception-type` when it happens mid-stream


# Fault name (as written in controls) -> Bedrock's answer.
ERROR_FAULTS: dict[str, ErrorKind] = {
    "throttling": ErrorKind(
        429,
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
        "throttlingException",
    ),
    "validation": ErrorKind(
        400, "ValidationException", "The request failed validation (injected fault).", "validationException"
    ),
    "access-denied": ErrorKind(
        403,
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
        "accessDeniedException",
    ),
    "not-found": ErrorKind(
        404,
        "ResourceNotFoundException",
        "The specified resource could not be found.",
        "resourceNotFoundException",
    ),
    "model-timeout": ErrorKind(
        408,
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
        "modelTimeoutException",
    ),
    "model-not-ready": ErrorKind(
        429,
        "ModelNotReadyException",
        "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation"
        " up to 5 times. For information about configuring automatic retries, see Retry behavior in the"
        " AWS SDKs and Tools reference guide.",
        "modelNotReadyException",
    ),
    "model-error": ErrorKind(
        424,
        "ModelErrorException",
        "The model returned an error: the system encountered an unexpected error during processing.",
        "modelErrorException",
    ),
    "internal": ErrorKind(
        500,
        "InternalServerException",
        "The system encountered an unexpected error during processing. Try your request again.",
        "internalServerException",
    ),
    "unavailable": ErrorKind(
        503,
        "ServiceUnavailableException",
        "Bedrock is unable to process your request.",
        "serviceUnavailableException",
    ),
    "quota": ErrorKind(
        400,
        "ServiceQuotaExceededException",
        "Your request exceeds the service quota for your account. You can view your quotas at"
        " https://console.aws.amazon.com/servicequotas/. You can resubmit your request later.",
        "serviceQuotaExceededException",
    ),
    "context-window": ErrorKind(
        400, "ValidationException", "Input is too long for requested model.", "validationException"
    ),
    "model-stream-error": ErrorKind(
        424,
        "ModelStreamErrorException",
        "The system encountered an unexpected error during processing. Try your request again.",
        "modelStreamErrorException",
    ),
}

# Errors a stream may end with (the `error=` key of the stream-error fault).
STREAM_ERRORS = ("throttling", "validation", "internal", "unavailable", "model-stream-error")


def from_fault(name: str) -> EmulatorError:
    kind = ERROR_FAULTS[name]
    return EmulatorError(kind.status, kind.code, kind.message)


# Texts Bedrock writes for the refusals the emulator reproduces.
INVALID_MODEL = "The provided model identifier is invalid."
CONTEXT_TOO_LONG = "Input is too long for requested model."
NOT_A_CHAT_MODEL = (
    "This action doesn't support the model that you provided. Try again with a supported text or chat model."
)
NO_SYSTEM = "This model doesn't support system messages. Try again without system messages."
NO_TOOLS = "This model doesn't support tool use."
NO_STREAM_TOOLS = "This model doesn't support tool use in streaming mode."
NO_STREAMING = "The model is unsupported for streaming."
FIRST_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user"
    " message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation alternates"
    " between user and assistant roles and try again."
)
BLOCKED_TEXT = "Sorry, the model cannot answer this question."


def on_demand_unsupported(model_id: str) -> str:
    return (
        f"Invocation of model ID {model_id} with on-demand throughput isn’t supported. Retry your request"
        " with the ID or ARN of an inference profile that contains this model."
    )


def tool_choice_unsupported(choice: str) -> str:
    return (
        f"This model doesn't support the toolConfig.toolChoice.{choice} field. Remove"
        f" toolConfig.toolChoice.{choice} and try again."
    )


def unsupported_block(block: str) -> str:
    return (
        f"This model doesn't support the {block} content block that you provided. Try again with a supported"
        " content block."
    )


def max_tokens_exceeded(limit: int) -> str:
    return (
        f"The maximum tokens you requested exceeds the model limit of {limit}. Try again with a maximum"
        f" tokens value that is lower than {limit}."
    )


def constraint(path: str, value: object, rule: str) -> EmulatorError:
    """Coral's wording for a member that breaks a modelled constraint."""
    return validation(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must"
        f" {rule}"
    )


def malformed(detail: str = "") -> EmulatorError:
    what = f": {detail}" if detail else ""
    return validation(f"Malformed input request{what}, please reformat your input and try again.")
