"""Issue 14, finding 6: a body over Bedrock's 25,000,000-byte limit is refused as Bedrock refuses it."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.emulator.conftest import HAIKU, user


def test_the_emulator_refuses_an_oversized_body_as_bedrock_does(runtime) -> None:
    """It used to hash a body it had dropped (hashlib.sha256(None)) and answer InternalServerException."""
    with pytest.raises(ClientError) as caught:
        runtime.converse(modelId=HAIKU, messages=user("a" * 25_100_000))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "25000000" in error["Message"]
