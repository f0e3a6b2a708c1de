"""SigV4 verification as AWS does it for Bedrock, with AWS's error types and messages.

The canonical URI is the path as sent, percent-encoded once more (so a model id's `%3A` is `%253A`); the
signing name is `bedrock` for both planes. Signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bedrock_proxy.emulator.errors import EmulatorError

_CORAL = ":http://internal.amazon.com/coral/com.amazon.coral.service/"
_MAX_SKEW = timedelta(minutes=5)
_SERVICE = "bedrock"


def _denied(code: str, message: str) -> EmulatorError:
    return EmulatorError(403, code, message, error_type_suffix=_CORAL)


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class SigV4Verifier:
    """Checks `Authorization` headers against one key pair (and optionally one bearer token)."""

    def __init__(
        self, access_key: str, secret_key: str, region: str, bearer_token: str | None = None
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.bearer_token = bearer_token
        self._keys: dict[str, bytes] = {}

    def _signing_key(self, date: str, region: str) -> bytes:
        cache_key = f"{date}/{region}"
        key = self._keys.get(cache_key)
        if key is None:
            k = _sign(("AWS4" + self.secret_key).encode(), date)
            k = _sign(k, region)
            k = _sign(k, _SERVICE)
            key = self._keys[cache_key] = _sign(k, "aws4_request")
        return key

    def verify(
        self,
        method: str,
        raw_path: bytes,
        query: bytes,
        headers: dict[str, str],
        body: bytes,
        now: datetime | None = None,
    ) -> None:
        """Raise the EmulatorError AWS would answer with, or return when the request is authentic."""
        authorization = headers.get("authorization")
        if not authorization:
            raise _denied("MissingAuthenticationTokenException", "Missing Authentication Token")
        if authorization.startswith("Bearer "):
            token = authorization[7:].strip()
            if self.bearer_token and hmac.compare_digest(token.encode(), self.bearer_token.encode()):
                return
            raise _denied(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            raise _denied(
                "IncompleteSignatureException",
                f"Authorization header requires 'Credential' parameter. Authorization={authorization[:40]}",
            )
        fields = {}
        for part in authorization[17:].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        credential, signed, signature = (
            fields.get("Credential"),
            fields.get("SignedHeaders"),
            fields.get("Signature"),
        )
        if not credential or not signed or not signature:
            raise _denied(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
            )
        scope = credential.split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _denied("IncompleteSignatureException", f"Credential is malformed: {credential}")
        access_key, date, region, service = scope[:4]
        if not hmac.compare_digest(access_key.encode(), self.access_key.encode()):
            raise _denied(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if service != _SERVICE:
            raise _denied(
                "InvalidSignatureException", f"Credential should be scoped to correct service: '{_SERVICE}'. "
            )
        if region != self.region:
            raise _denied(
                "InvalidSignatureException",
                "Credential should be scoped to a valid region. ",
            )
        stamp = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _denied(
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ) from None
        now = now or datetime.now(UTC)
        if abs(now - signed_at) > _MAX_SKEW:
            fmt = "%Y%m%dT%H%M%SZ"
            current = now.strftime(fmt)
            if signed_at < now:
                detail = f"{stamp} is now earlier than {(now - _MAX_SKEW).strftime(fmt)} ({current} - 5 min.)"
            else:
                detail = f"{stamp} is now later than {(now + _MAX_SKEW).strftime(fmt)} ({current} + 5 min.)"
            raise _denied("InvalidSignatureException", f"Signature expired: {detail}")
        names = signed.split(";")
        canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
        payload_hash = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
        canonical = "\n".join(
            (
                method,
                quote(raw_path.decode("latin-1"), safe="/~"),
                _canonical_query(query.decode("latin-1")),
                canonical_headers,
                signed,
                payload_hash,
            )
        )
        string_to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256",
                stamp,
                f"{date}/{region}/{service}/aws4_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
        )
        expected = hmac.new(
            self._signing_key(date, region), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise _denied(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your"
                " AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))
