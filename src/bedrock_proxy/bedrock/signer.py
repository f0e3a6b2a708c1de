"""SigV4 for Bedrock's POST calls, lean enough for the hot path.

botocore's SigV4Auth builds and prepares a whole AWSRequest per call: about 80 us, a fifth of the gateway's
CPU per request at throughput. This signer computes the same signature (tests compare it with botocore's
byte for byte) from precomputed parts: the canonical URI and host per URL, the derived signing key per day,
and the timestamp per second. Credentials still come from botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import lru_cache
from urllib.parse import quote, urlsplit

from botocore.credentials import ReadOnlyCredentials

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "bedrock"  # the signing name of both bedrock-runtime and the control plane


@lru_cache(maxsize=1024)
def canonical_location(url: str) -> tuple[str, str]:
    """(host header value, canonical URI) for a URL, as botocore derives them."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = 443 if parts.scheme == "https" else 80
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    # the path arrives percent-encoded; SigV4 (outside S3) encodes it once more
    return host, quote(parts.path or "/", safe="/~")


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, date: str, region: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    key = hmac.new(key, region.encode(), hashlib.sha256).digest()
    key = hmac.new(key, SERVICE.encode(), hashlib.sha256).digest()
    return hmac.new(key, b"aws4_request", hashlib.sha256).digest()


_stamp_second = -1
_stamp = ""


def _amz_date(now: float) -> str:
    global _stamp_second, _stamp
    second = int(now)
    if second != _stamp_second:
        _stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        _stamp_second = second
    return _stamp


def sign(
    credentials: ReadOnlyCredentials,
    region: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    now: float | None = None,
) -> dict[str, str]:
    """Add x-amz-date, x-amz-security-token (temporary credentials) and Authorization to `headers`."""
    amz_date = _amz_date(time.time() if now is None else now)
    date = amz_date[:8]
    host, canonical_uri = canonical_location(url)
    headers["X-Amz-Date"] = amz_date
    if credentials.token:
        headers["X-Amz-Security-Token"] = credentials.token
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed["host"] = host
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        ("POST", canonical_uri, "", canonical_headers, signed_headers, hashlib.sha256(body).hexdigest())
    )
    scope = f"{date}/{region}/{SERVICE}/aws4_request"
    string_to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    signature = hmac.new(
        _signing_key(credentials.secret_key, date, region), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return headers
