"""AWS credentials for a deployment: botocore's chain, static keys, an assumed role, or a bearer token.

botocore does the real work (environment, profiles, SSO, container and EC2 instance metadata, refresh).
Refreshing credentials call AWS synchronously, so a refresh that is due runs in a worker thread instead of
blocking the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import botocore.session
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    """What a deployment says about its identity; equal specs share one credential source."""

    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    profile_name: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    region: str = "eu-west-1"


class CredentialSource:
    """Hands out frozen credentials for signing, refreshing them off the event loop when they near expiry."""

    def __init__(self, spec: CredentialSpec) -> None:
        self.spec = spec
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()

    def _resolve(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = _build_credentials(self.spec)
            return self._credentials

    async def get(self) -> ReadOnlyCredentials:
        credentials = (
            self._credentials if self._credentials is not None else await asyncio.to_thread(self._resolve)
        )
        if isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed():
            return await asyncio.to_thread(credentials.get_frozen_credentials)
        return credentials.get_frozen_credentials()


class MissingCredentials(Exception):
    pass


def _build_credentials(spec: CredentialSpec) -> Credentials:
    if spec.access_key_id and spec.secret_access_key:
        base: Credentials = Credentials(spec.access_key_id, spec.secret_access_key, spec.session_token)
    else:
        session = botocore.session.Session(profile=spec.profile_name) if spec.profile_name else _session()
        found = session.get_credentials()
        if found is None:
            raise MissingCredentials(
                "no AWS credentials found: attach an instance profile to the EC2 host, set AWS_PROFILE,"
                " or set aws_access_key_id / aws_secret_access_key on the deployment"
            )
        base = found
    if spec.role_name:
        return _assume_role(base, spec)
    return base


def _session() -> botocore.session.Session:
    return botocore.session.Session()


def _assume_role(base: Credentials, spec: CredentialSpec) -> RefreshableCredentials:
    """Assume `role_name` with the base credentials; botocore refreshes it before expiry."""
    frozen = base.get_frozen_credentials()
    session = _session()

    def fetch() -> dict[str, str]:
        sts = session.create_client(
            "sts",
            region_name=spec.region,
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )
        answer = sts.assume_role(
            RoleArn=spec.role_name, RoleSessionName=spec.session_name or "bedrock-proxy"
        )["Credentials"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    return RefreshableCredentials.create_from_metadata(fetch(), refresh_using=fetch, method="assume-role")
