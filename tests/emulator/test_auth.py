"""SigV4 and bearer-token verification, with the error types AWS answers and botocore raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from bedrock_proxy.emulator import EmulatorOptions, start_in_thread
from bedrock_proxy.emulator.errors import EmulatorError
from bedrock_proxy.emulator.sigv4 import SigV4Verifier
from tests.emulator.conftest import HAIKU, NO_RETRIES, make_client, user


def _error(client) -> ClientError:
    with pytest.raises(ClientError) as caught:
        client.converse(modelId=HAIKU, messages=user("hi"))
    return caught.value


def test_a_correctly_signed_request_is_accepted(runtime):
    assert runtime.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def test_a_wrong_secret_key_is_an_invalid_signature(emulator):
    error = _error(make_client("bedrock-runtime", emulator.url, aws_secret_access_key="not-the-secret"))
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_an_unknown_access_key_is_an_unrecognized_client(emulator):
    error = _error(make_client("bedrock-runtime", emulator.url, aws_access_key_id="AKIDUNKNOWN"))
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"
    assert error.response["Error"]["Message"] == "The security token included in the request is invalid."
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_expired_timestamp_is_rejected(emulator, monkeypatch):
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: stale)
    error = _error(make_client("bedrock-runtime", emulator.url))
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.response["Error"]["Message"].startswith("Signature expired: ")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_signature_for_another_region_is_rejected(emulator):
    error = _error(make_client("bedrock-runtime", emulator.url, region="us-east-1"))
    assert error.response["Error"]["Code"] == "InvalidSignatureException"


def test_an_unsigned_request_is_missing_its_token(emulator):
    client = make_client(
        "bedrock-runtime", emulator.url, config=NO_RETRIES.merge(Config(signature_version=UNSIGNED))
    )
    error = _error(client)
    assert error.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_the_control_plane_is_verified_too(emulator):
    with pytest.raises(ClientError) as caught:
        make_client("bedrock", emulator.url, aws_secret_access_key="wrong").list_foundation_models()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_a_signed_path_prefix_is_verified_over_the_path_as_sent(runtime_at):
    assert runtime_at("text=3").converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def test_a_bearer_token_is_accepted_over_https_and_a_wrong_one_refused(monkeypatch, tls_files):
    options = EmulatorOptions(
        bearer_token="bedrock-api-key-test", tls_certfile=tls_files.cert, tls_keyfile=tls_files.key
    )
    with start_in_thread(options) as running:
        assert running.url.startswith("https://")
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-test")
        client = make_client("bedrock-runtime", running.url, verify=tls_files.ca)
        assert client.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "wrong-token")
        error = _error(make_client("bedrock-runtime", running.url, verify=tls_files.ca))
        assert error.response["Error"]["Code"] == "UnrecognizedClientException"


def test_the_emulator_refuses_a_certificate_without_its_key(tls_files):
    with pytest.raises(ValueError, match="--tls-cert and --tls-key go together"):
        EmulatorOptions(tls_certfile=tls_files.cert)


def test_no_verify_accepts_any_credentials():
    with start_in_thread(EmulatorOptions(verify=False)) as running:
        client = make_client("bedrock-runtime", running.url, aws_access_key_id="x", aws_secret_access_key="y")
        assert client.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def _signed(method: str, url: str, body: bytes, secret: str = "s3cret") -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(Credentials("AKID", secret), "bedrock", "eu-west-1").add_auth(request)
    return request


def _verify(verifier: SigV4Verifier, request: AWSRequest, now: datetime | None = None) -> None:
    path, _, query = request.url.split("://", 1)[1].partition("/")[2].partition("?")
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:4010"
    verifier.verify(request.method, ("/" + path).encode(), query.encode(), headers, request.body or b"", now)


def test_the_verifier_double_encodes_model_ids_and_sorts_the_query():
    verifier = SigV4Verifier("AKID", "s3cret", "eu-west-1")
    converse = _signed(
        "POST", "http://127.0.0.1:4010/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", b"{}"
    )
    _verify(verifier, converse)
    listing = _signed(
        "GET", "http://127.0.0.1:4010/foundation-models?byProvider=Meta&byOutputModality=TEXT", b""
    )
    _verify(verifier, listing)


def test_the_verifier_rejects_a_clock_skew_over_five_minutes_either_way():
    verifier = SigV4Verifier("AKID", "s3cret", "eu-west-1")
    request = _signed("POST", "http://127.0.0.1:4010/model/m/converse", b"{}")
    for skew in (timedelta(minutes=6), -timedelta(minutes=6)):
        with pytest.raises(EmulatorError, match="Signature expired") as caught:
            _verify(verifier, request, datetime.now(UTC) + skew)
        assert caught.value.status == 403 and caught.value.code == "InvalidSignatureException"
    _verify(verifier, request, datetime.now(UTC) + timedelta(minutes=4))


def test_the_verifier_rejects_a_tampered_body():
    verifier = SigV4Verifier("AKID", "s3cret", "eu-west-1")
    request = _signed("POST", "http://127.0.0.1:4010/model/m/converse", b'{"a":1}')
    request.data = b'{"a":2}'
    with pytest.raises(EmulatorError) as caught:
        _verify(verifier, request)
    assert caught.value.code == "InvalidSignatureException"
