"""The Bedrock provider: one deployment, one call. Knows which operation to use and where it goes;
leaves what the body says to `translate` and how bytes travel to `transport`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bedrock_proxy.bedrock.credentials import CredentialSource, CredentialSpec
from bedrock_proxy.bedrock.transport import BedrockTransport, EventStream, Target, default_endpoint
from bedrock_proxy.errors import GatewayError

if TYPE_CHECKING:
    from bedrock_proxy.config.schema import Deployment

Body = dict[str, Any]  # one Bedrock request or answer body, as JSON


class Events(Protocol):
    """An open Bedrock stream: (event type, payload) pairs, as EventStream yields them."""

    def __aiter__(self) -> AsyncGenerator[tuple[str, Body], None]: ...


class Provider(Protocol):
    """What the server calls: a BedrockProvider, or one wrapped (observability's RawLoggingProvider)."""

    async def converse(self, deployment: Deployment, body: Body, timeout: float) -> Body: ...

    async def converse_stream(
        self, deployment: Deployment, body: Body, first_event_timeout: float, timeout: float
    ) -> Events: ...

    async def invoke(self, deployment: Deployment, body: Body, timeout: float) -> Body: ...

    async def embed(self, deployment: Deployment, bodies: list[Body], timeout: float) -> list[Body]: ...

    async def count_tokens(self, deployment: Deployment, body: Body, timeout: float) -> Body: ...


# a 100-string list (a typical RAG batch) goes out in one round trip; longer lists in rounds of 100
EMBEDDING_CONCURRENCY = 100


class BedrockProvider:
    def __init__(self, transport: BedrockTransport, environ: Mapping[str, str] = os.environ) -> None:
        self.transport = transport
        self._environ = environ
        self._targets: dict[str, Target] = {}
        self._sources: dict[CredentialSpec, CredentialSource] = {}

    def target(self, deployment: Deployment) -> Target:
        target = self._targets.get(deployment.deployment_id)
        if target is None:
            target = self._targets[deployment.deployment_id] = self._build_target(deployment)
        return target

    def _build_target(self, deployment: Deployment) -> Target:
        endpoint = (deployment.endpoint or default_endpoint(deployment.region)).rstrip("/")
        bearer = deployment.aws_bearer_token
        has_keys = bool(deployment.aws_access_key_id and deployment.aws_secret_access_key)
        if not bearer and not has_keys and not deployment.aws_role_name:
            bearer = self._environ.get("AWS_BEARER_TOKEN_BEDROCK") or None
        if bearer:
            return Target(deployment.model_id, deployment.region, endpoint, None, bearer)
        spec = CredentialSpec(
            access_key_id=deployment.aws_access_key_id,
            secret_access_key=deployment.aws_secret_access_key,
            session_token=deployment.aws_session_token,
            profile_name=deployment.aws_profile_name,
            role_name=deployment.aws_role_name,
            session_name=deployment.aws_session_name,
            region=deployment.region,
        )
        source = self._sources.get(spec)
        if source is None:
            source = self._sources[spec] = CredentialSource(spec)
        return Target(deployment.model_id, deployment.region, endpoint, source)

    async def converse(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        return await self.transport.call(self.target(deployment), "converse", body, timeout)

    async def converse_stream(
        self, deployment: Deployment, body: Body, first_event_timeout: float, timeout: float
    ) -> EventStream:
        return await self.transport.stream(
            self.target(deployment), "converse-stream", body, first_event_timeout, timeout
        )

    async def invoke(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        return await self.transport.call(self.target(deployment), "invoke", body, timeout)

    async def count_tokens(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        """CountTokens: `{"input": {"converse": {...}}}` -> `{"inputTokens": N}` (free, Claude models)."""
        return await self.transport.call(self.target(deployment), "count-tokens", body, timeout)

    async def embed(self, deployment: Deployment, bodies: list[Body], timeout: float) -> list[Body]:
        """One InvokeModel per body, at most EMBEDDING_CONCURRENCY at once, answers in input order."""
        if len(bodies) == 1:
            return [await self.invoke(deployment, bodies[0], timeout)]
        limit = asyncio.Semaphore(EMBEDDING_CONCURRENCY)

        async def one(body: Body) -> Body:
            async with limit:
                return await self.invoke(deployment, body, timeout)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(body)) for body in bodies]
        except* GatewayError as failures:
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]
