import pytest

from bedrock_proxy.errors import from_bedrock, normalise_exception_name


@pytest.mark.parametrize(
    ("name", "status", "expected_status", "expected_type", "retryable"),
    [
        ("ValidationException", 400, 400, "invalid_request_error", False),
        ("AccessDeniedException", 403, 403, "permission_error", False),
        ("ResourceNotFoundException", 404, 404, "not_found_error", False),
        ("ModelTimeoutException", 408, 408, "timeout_error", True),
        ("ThrottlingException", 429, 429, "rate_limit_error", True),
        ("throttlingException", 0, 429, "rate_limit_error", True),
        ("ModelNotReadyException", 429, 429, "rate_limit_error", True),
        ("InternalServerException", 500, 500, "api_error", True),
        ("ServiceUnavailableException", 503, 503, "service_unavailable_error", True),
        (None, 503, 503, "service_unavailable_error", True),
        ("ThrottlingException:http://internal.amazon.com/coral/", 429, 429, "rate_limit_error", True),
    ],
)
def test_bedrock_errors_map_to_openai_status_and_type(
    name, status, expected_status, expected_type, retryable
):
    error = from_bedrock(name, "something happened", status)
    assert error.status == expected_status
    assert error.type == expected_type
    assert error.retryable is retryable
    assert set(error.to_dict()["error"]) == {"message", "type", "param", "code"}
    assert "something happened" in error.message


def test_on_demand_error_tells_the_user_to_use_an_inference_profile():
    error = from_bedrock(
        "ValidationException",
        "Invocation of model ID anthropic.claude-3-opus-20240229-v1:0 with on-demand throughput"
        " isn't supported.",
        400,
    )
    assert "inference profile" in error.message


def test_an_invalid_eu_profile_id_is_answered_with_the_substitute_not_another_eu_id():
    error = from_bedrock(
        "ValidationException",
        "The provided model identifier is invalid.",
        400,
        model_id="eu.anthropic.claude-3-opus-20240229-v1:0",
        region="eu-west-1",
    )
    assert "is not offered in the EU" in error.message
    assert "use model: bedrock/eu.anthropic.claude-3-5-sonnet-20240620-v1:0 instead" in error.message


def test_a_profile_only_model_is_answered_with_its_eu_profile():
    error = from_bedrock(
        "ValidationException",
        "Invocation of model ID anthropic.claude-3-7-sonnet-20250219-v1:0 with on-demand throughput"
        " isn't supported.",
        400,
        model_id="anthropic.claude-3-7-sonnet-20250219-v1:0",
        region="eu-west-1",
    )
    assert "Use model: bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0 in config.yaml" in error.message


def test_context_window_error_has_openai_code():
    error = from_bedrock("ValidationException", "Input is too long for requested model.", 400)
    assert error.code == "context_length_exceeded"


def test_exception_names_are_normalised():
    assert normalise_exception_name("modelStreamErrorException") == "ModelStreamErrorException"


def test_a_signature_error_never_carries_the_canonical_request_to_the_client():
    message = (
        "The request signature we calculated does not match the signature you provided.\n\n"
        "The Canonical String for this request should have been\n'POST\n/model/m/converse\n\n"
        "x-amz-security-token:FwoGZXIvYXdzEXAMPLETOKEN\n'"
    )
    error = from_bedrock("InvalidSignatureException", message, 403)
    assert "FwoGZXIvYXdzEXAMPLETOKEN" not in error.message
    assert "signature we calculated" in error.message
    assert error.status == 403


def test_a_bare_401_from_bedrock_is_the_gateway_credentials_not_the_client_key():
    error = from_bedrock(None, "Unauthorized", 401)
    assert error.status == 403
    assert error.code == "bedrock_invalid_credentials"
