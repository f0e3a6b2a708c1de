"""log_raw_request_response: what the gateway sends to Bedrock and what comes back, secrets removed.

A wrapper around the Bedrock provider, installed only when the setting is on, so the request path pays
nothing when it is off. Embedding vectors are shortened (a few values and a count): they are data, not
something a person debugging a request reads.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.logs import log_raw

if TYPE_CHECKING:
    from bedrock_proxy.bedrock.provider import Body, Events, Provider
    from bedrock_proxy.config.schema import Deployment

T = TypeVar("T")

MAX_VECTOR_VALUES = 4


def shorten_vectors(value: Any) -> Any:
    """A copy with long lists of numbers cut to their first values plus a count."""
    if isinstance(value, list):
        if len(value) > MAX_VECTOR_VALUES and all(isinstance(v, (int, float)) for v in value[:8]):
            return [*value[:MAX_VECTOR_VALUES], f"... {len(value)} values"]
        return [shorten_vectors(v) for v in value]
    if isinstance(value, dict):
        return {k: shorten_vectors(v) for k, v in value.items()}
    return value


def _where(deployment: Deployment, operation: str) -> str:
    return f"{operation} {deployment.deployment_id} {deployment.model_id}"


class RawLoggingProvider:
    """Same calls as BedrockProvider (converse, converse_stream, invoke, embed), each one logged."""

    def __init__(self, inner: Provider) -> None:
        self._inner = inner

    async def _call(
        self,
        operation: str,
        deployment: Deployment,
        body: Body | list[Body],
        call: Awaitable[T],
        *,
        answer: bool = True,
    ) -> T:
        where = _where(deployment, operation)
        log_raw(f"bedrock request {where}", body, enabled=True)
        try:
            result = await call
        except GatewayError as error:
            log_raw(
                f"bedrock error {where}",
                {"status": error.status, "type": error.upstream or error.code, "message": error.message},
                enabled=True,
            )
            raise
        if answer:
            log_raw(f"bedrock response {where}", shorten_vectors(result), enabled=True)
        return result

    async def converse(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        return await self._call("converse", deployment, body, self._inner.converse(deployment, body, timeout))

    async def invoke(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        return await self._call("invoke", deployment, body, self._inner.invoke(deployment, body, timeout))

    async def embed(self, deployment: Deployment, bodies: list[Body], timeout: float) -> list[Body]:
        return await self._call("invoke", deployment, bodies, self._inner.embed(deployment, bodies, timeout))

    async def count_tokens(self, deployment: Deployment, body: Body, timeout: float) -> Body:
        call = self._inner.count_tokens(deployment, body, timeout)
        return await self._call("count-tokens", deployment, body, call)

    async def converse_stream(
        self, deployment: Deployment, body: Body, first_event_timeout: float, timeout: float
    ) -> Events:
        call = self._inner.converse_stream(deployment, body, first_event_timeout, timeout)
        stream = await self._call("converse-stream", deployment, body, call, answer=False)
        return _LoggedStream(stream, _where(deployment, "converse-stream"))


class _LoggedStream:
    """Logs each decoded stream event as it passes through."""

    def __init__(self, stream: Events, where: str) -> None:
        self._stream = stream
        self._where = where

    async def __aiter__(self) -> AsyncGenerator[tuple[str, Body], None]:
        events = self._stream.__aiter__()
        try:
            async for name, payload in events:
                log_raw(f"bedrock event {self._where}", {name: payload}, enabled=True)
                yield name, payload
        except GatewayError as error:
            log_raw(
                f"bedrock stream error {self._where}",
                {"status": error.status, "type": error.upstream or error.code, "message": error.message},
                enabled=True,
            )
            raise
        finally:
            await events.aclose()
