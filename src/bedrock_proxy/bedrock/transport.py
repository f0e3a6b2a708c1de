"""Transport: how a Bedrock call travels. Signs with SigV4 (signer.py) or a Bedrock API key, sends it over a
pooled aiohttp connection, decodes JSON answers, AWS event streams and Bedrock's errors.

The provider decides what to send; this module only moves bytes, so tests point it at the emulator
by endpoint and never patch it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from botocore.eventstream import EventStreamBuffer, ParserError
from yarl import URL

from bedrock_proxy.bedrock.credentials import CredentialSource, MissingCredentials
from bedrock_proxy.bedrock.signer import sign
from bedrock_proxy.errors import ErrorCode, GatewayError, connection_error, from_bedrock, timeout_error


@dataclass(frozen=True, slots=True)
class Target:
    """Where one deployment's calls go and who signs them."""

    model_id: str
    region: str
    endpoint: str  # base URL, without a trailing slash; may carry a path prefix
    credentials: CredentialSource | None  # None when a bearer token is used
    bearer_token: str | None = None

    def url(self, operation: str) -> tuple[str, URL]:
        """The operation's URL as signed (text) and as sent (already encoded: aiohttp must not re-quote)."""
        return _operation_url(self.endpoint, self.model_id, operation)


@lru_cache(maxsize=4096)
def _operation_url(endpoint: str, model_id: str, operation: str) -> tuple[str, URL]:
    text = f"{endpoint}/model/{quote(model_id, safe='')}/{operation}"
    return text, URL(text, encoded=True)


def default_endpoint(region: str) -> str:
    return f"https://bedrock-runtime.{region}.amazonaws.com"


def tls_context(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """The TLS trust for Bedrock endpoints: the system's, or only `ca_bundle` (botocore's AWS_CA_BUNDLE, for
    a VPC endpoint behind a corporate proxy or an emulator with its own certificate). Raises ValueError
    naming the file when it cannot be used, so the gateway refuses to start instead of failing every call."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(
            f"AWS_CA_BUNDLE={ca_bundle}: cannot load it as PEM certificates ({reason}); point it at a"
            " readable PEM file or unset it to use the system's certificate authorities"
        ) from None


class BedrockTransport:
    """One pooled HTTP client for every deployment of the gateway process."""

    def __init__(self, *, max_connections: int = 1000, ca_bundle: str | None = None) -> None:
        self._max_connections = max_connections
        self._tls = tls_context(ca_bundle)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                ttl_dns_cache=300,
                keepalive_timeout=60,
                ssl=self._tls,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _headers(self, target: Target, url: str, body: bytes, accept: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": accept}
        if target.bearer_token:
            headers["Authorization"] = f"Bearer {target.bearer_token}"
            return headers
        assert target.credentials is not None
        try:
            credentials = await target.credentials.get()
        except MissingCredentials as exc:
            raise GatewayError(
                503,
                f"The gateway has no AWS credentials: {exc}.",
                type="service_unavailable_error",
                code=ErrorCode.AWS_CREDENTIALS,
            ) from None
        except Exception as exc:  # a refresh or an assumed role failed (STS, instance metadata, profile)
            raise GatewayError(
                503,
                f"The gateway could not load its AWS credentials ({type(exc).__name__}). Check the instance"
                " profile, aws_role_name or aws_profile_name; `bedrock-proxy doctor` shows which.",
                type="service_unavailable_error",
                code=ErrorCode.AWS_CREDENTIALS,
                retryable=True,
            ) from None
        return sign(credentials, target.region, url, body, headers)

    async def call(
        self, target: Target, operation: str, payload: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """A non-streaming call (converse, invoke, count-tokens): the decoded answer or a GatewayError."""
        body = orjson.dumps(payload)
        url, encoded = target.url(operation)
        headers = await self._headers(target, url, body, "application/json")
        try:
            async with asyncio.timeout(timeout):
                async with self.session.post(encoded, data=body, headers=headers) as response:
                    data = await response.read()
                    if response.status >= 400:
                        raise _error_from_response(response, data, target)
                    answer: dict[str, Any] = orjson.loads(data)  # Bedrock answers a JSON object
                    return answer
        except TimeoutError:
            raise timeout_error(timeout) from None
        except aiohttp.ClientError as exc:
            raise connection_error(_describe(exc)) from None
        except orjson.JSONDecodeError:
            raise _bad_answer("an answer that is not JSON") from None

    async def stream(
        self,
        target: Target,
        operation: str,
        payload: dict[str, Any],
        first_event_timeout: float,
        timeout: float,
    ) -> EventStream:
        """Open an event stream; returns once the response headers arrived (errors before that are raised)."""
        body = orjson.dumps(payload)
        url, encoded = target.url(operation)
        headers = await self._headers(target, url, body, "application/vnd.amazon.eventstream")
        deadline = time.monotonic() + timeout
        response: aiohttp.ClientResponse | None = None
        try:
            async with asyncio.timeout(min(first_event_timeout, timeout)):
                response = await self.session.post(encoded, data=body, headers=headers)
                if response.status >= 400:
                    raise _error_from_response(response, await response.read(), target)
        except BaseException as exc:
            if response is not None:
                response.close()  # never hand a half-read connection back to the pool
            if isinstance(exc, TimeoutError):
                raise timeout_error(min(first_event_timeout, timeout)) from None
            if isinstance(exc, aiohttp.ClientError):
                raise connection_error(_describe(exc)) from None
            raise
        return EventStream(response, deadline, timeout)


class EventStream:
    """Decoded events of one Bedrock stream, each yielded the moment its frame is complete."""

    def __init__(self, response: aiohttp.ClientResponse, deadline: float, timeout: float) -> None:
        self._response = response
        self._deadline = deadline
        self._timeout = timeout
        self._buffer = EventStreamBuffer()
        self._expired = False

    def _expire(self) -> None:
        self._expired = True
        self._response.content.set_exception(TimeoutError())

    async def __aiter__(self) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
        content = self._response.content
        buffer = self._buffer
        loop = asyncio.get_running_loop()
        # one watchdog for the whole stream rather than a timer per read
        watchdog = loop.call_at(loop.time() + max(0.0, self._deadline - time.monotonic()), self._expire)
        try:
            while True:
                try:
                    data = await content.readany()
                except TimeoutError:
                    raise timeout_error(self._timeout) from None
                except aiohttp.ClientError as exc:
                    raise connection_error(_describe(exc)) from None
                if not data:
                    if self._expired:
                        raise timeout_error(self._timeout)
                    return
                try:
                    buffer.add_data(data)
                    for message in buffer:
                        headers = message.headers
                        message_type = headers.get(":message-type")
                        if message_type == "event":
                            yield headers.get(":event-type", ""), orjson.loads(message.payload or b"{}")
                        elif message_type in ("exception", "error"):
                            name = headers.get(":exception-type") or headers.get(":error-code")
                            raise from_bedrock(name, _message_of(message.payload), 0)
                except (ParserError, orjson.JSONDecodeError) as exc:
                    raise _bad_answer(f"a stream frame it could not decode ({type(exc).__name__})") from None
        finally:
            watchdog.cancel()
            self.close()

    def close(self) -> None:
        """Release the connection; an unfinished stream is dropped rather than returned to the pool."""
        if not self._response.closed:
            if self._response.content.at_eof():
                self._response.release()
            else:
                self._response.close()


def _message_of(payload: bytes) -> str:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")[:500]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("Message") or data)
    return str(data)


def _error_from_response(response: aiohttp.ClientResponse, data: bytes, target: Target) -> GatewayError:
    name = response.headers.get("x-amzn-ErrorType")
    message = _message_of(data) if data else response.reason or ""
    if not name:
        try:
            parsed = orjson.loads(data)
            name = parsed.get("__type") or parsed.get("code") if isinstance(parsed, dict) else None
        except orjson.JSONDecodeError:
            name = None
    retry_after = None
    if header := response.headers.get("Retry-After"):
        with contextlib.suppress(ValueError):
            retry_after = float(header)
    return from_bedrock(
        name,
        message,
        response.status,
        model_id=target.model_id,
        region=target.region,
        retry_after=retry_after,
    )


def _bad_answer(what: str) -> GatewayError:
    return GatewayError(
        502,
        f"Bedrock sent {what}. Retry the request.",
        type="api_error",
        code=ErrorCode.BEDROCK_BAD_RESPONSE,
        retryable=True,
        upstream="BadResponse",
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.split(" [", 1)[0]
