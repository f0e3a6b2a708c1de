"""The lean signer must produce exactly botocore's SigV4 signature for every call shape the gateway makes."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from bedrock_proxy.bedrock import signer

NOW = datetime.datetime(2026, 11, 27, 10, 30, 5, tzinfo=datetime.UTC)
KEYS = ReadOnlyCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
TEMPORARY = ReadOnlyCredentials("ASIAEXAMPLE", "secret/with+chars", "FwoGZXIvYXdzE//token==")


def botocore_headers(credentials, region, url, body, headers):
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        SigV4Auth(credentials, "bedrock", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("credentials", "region", "url", "body", "headers"),
    [
        pytest.param(
            KEYS,
            "eu-west-1",
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
            b'{"messages":[]}',
            {"Content-Type": "application/json", "Accept": "application/json"},
            id="aws-host-model-id-with-colon",
        ),
        pytest.param(
            TEMPORARY,
            "eu-west-1",
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/eu.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
            b'{"messages":[{"role":"user","content":[{"text":"h\xc3\xa9"}]}]}',
            {"Content-Type": "application/json", "Accept": "application/vnd.amazon.eventstream"},
            id="session-token-and-stream",
        ),
        pytest.param(
            KEYS,
            "us-east-1",
            "http://127.0.0.1:4010/_emu/fault=throttling,ttft=0.1/model/amazon.titan-embed-text-v2%3A0/invoke",
            b"",
            {"Content-Type": "application/json"},
            id="local-endpoint-with-port-and-path-prefix",
        ),
        pytest.param(
            KEYS,
            "eu-west-3",
            "https://bedrock-runtime.eu-west-3.amazonaws.com:443/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123%3Ainference-profile%2Feu.x/converse",
            b"{}",
            {"Content-Type": "application/json"},
            id="arn-model-id-and-default-port",
        ),
    ],
)
def test_signature_equals_botocore(credentials, region, url, body, headers):
    expected = botocore_headers(credentials, region, url, body, headers)
    ours = signer.sign(credentials, region, url, body, dict(headers), now=NOW.timestamp())
    assert ours["Authorization"] == expected["Authorization"]
    assert ours["X-Amz-Date"] == expected["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token")


def test_a_different_secret_gives_a_different_signature():
    url = "https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse"
    first = signer.sign(KEYS, "eu-west-1", url, b"{}", {}, now=NOW.timestamp())["Authorization"]
    other = ReadOnlyCredentials("AKIDEXAMPLE", "another-secret", None)
    second = signer.sign(other, "eu-west-1", url, b"{}", {}, now=NOW.timestamp())["Authorization"]
    assert first != second
