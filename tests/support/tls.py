"""A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, as PEM files.

Bedrock is only served over HTTPS and botocore sends a bearer token only over HTTPS, so the tests that use
AWS_BEARER_TOKEN_BEDROCK serve the emulator with this certificate and make the clients trust this CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: str  # the CA certificate a client trusts (boto3 `verify=`, AWS_CA_BUNDLE)
    cert: str  # the server's certificate chain
    key: str  # the server's private key


def make_tls_files(folder: Path) -> TlsFiles:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    ca, cert, key = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    authority.cert_pem.write_to_path(str(ca))
    server.private_key_pem.write_to_path(str(key))
    with cert.open("wb") as handle:
        for blob in server.cert_chain_pems:
            handle.write(blob.bytes())
    return TlsFiles(str(ca), str(cert), str(key))
