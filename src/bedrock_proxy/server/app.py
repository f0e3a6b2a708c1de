"""The gateway as one plain ASGI application: a route table, per-request context, OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bedrock_proxy.bedrock.provider import BedrockProvider
from bedrock_proxy.bedrock.transport import BedrockTransport
from bedrock_proxy.cache import ResponseCaching
from bedrock_proxy.errors import GatewayError
from bedrock_proxy.observability.hub import Observability
from bedrock_proxy.observability.logs import request_id_var
from bedrock_proxy.observability.rawlog import RawLoggingProvider
from bedrock_proxy.router.router import Router
from bedrock_proxy.server import chat, embeddings, info
from bedrock_proxy.server.auth import KeyRing
from bedrock_proxy.server.context import RequestContext, current_request
from bedrock_proxy.server.http import (
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_error,
)
from bedrock_proxy.server.images import ImageFetcher
from bedrock_proxy.server.records import Recorder
from bedrock_proxy.spend import KeyGuard
from bedrock_proxy.spend import routes as spend_routes

logger = logging.getLogger("bedrock_proxy.server")

Handler = Callable[["Gateway", Scope, Receive, Send, RequestContext], Awaitable[None]]
MAX_BODY_BYTES = 32 * 1024 * 1024

ROUTES: dict[tuple[str, str], tuple[Handler, str]] = {}
for _prefix in ("", "/v1"):
    ROUTES[("POST", f"{_prefix}/chat/completions")] = (chat.chat_completions, "chat")
    ROUTES[("POST", f"{_prefix}/embeddings")] = (embeddings.embeddings, "embedding")
    ROUTES[("GET", f"{_prefix}/models")] = (info.models, "")
    ROUTES[("GET", f"{_prefix}/model/info")] = (info.model_info, "")
ROUTES[("GET", "/health")] = (info.health, "")
ROUTES[("GET", "/health/liveliness")] = (info.liveliness, "")
ROUTES[("GET", "/health/liveness")] = (info.liveliness, "")
ROUTES[("GET", "/health/readiness")] = (info.readiness, "")
ROUTES[("GET", "/health/models")] = (info.deep_health, "")
ROUTES[("GET", "/metrics")] = (info.metrics, "")
ROUTES[("GET", "/key/info")] = (spend_routes.key_info, "")
ROUTES[("GET", "/spend/logs")] = (spend_routes.spend_logs, "")
_PATHS = {path for _, path in ROUTES}


class Gateway:
    """Everything one gateway process holds: config, router, Bedrock provider, keys, observability."""

    def __init__(
        self,
        config: Any,
        *,
        environ: Mapping[str, str] = os.environ,
        observability: Observability | None = None,
        image_fetcher: ImageFetcher | None = None,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.observability = observability or Observability.from_settings(self.settings, environ)
        # the router reports retries, fallbacks and deployment state (healthy, partial, cooldown)
        self.router = Router(config, self.observability.metrics)
        self.transport = BedrockTransport()
        self.provider: Any = BedrockProvider(self.transport, environ)
        self.keys = KeyRing(self.settings.master_key, self.settings.api_keys)
        # per-key spend_limit, rpm and tpm, checked once per model call before the handler runs
        self.guard = KeyGuard(self.keys.identities, self.observability.spend, self.router.store)
        if self.guard.counts_tokens:
            self.observability.observers.append(self.guard.observe)
        self.images = image_fetcher or ImageFetcher()
        if self.observability.log_raw_request_response:
            self.provider = RawLoggingProvider(self.provider)
        # litellm_settings.cache / router_settings.cache_responses: None when caching is off
        self.cache = ResponseCaching.from_settings(self.settings, environ)
        self.recorder = Recorder(self.observability, log_messages=not self.settings.turn_off_message_logging)
        self.max_body_bytes = MAX_BODY_BYTES
        self.started = False
        self.draining = False

    def drop_params(self, deployment: Any) -> bool:
        return bool(self.settings.drop_params or (deployment.defaults or {}).get("drop_params"))

    def request_timeout(self) -> float:
        return float(self.settings.request_timeout or 600)

    async def startup(self) -> None:
        await self.observability.start()
        if self.cache is not None:
            await self.cache.start()  # an unreachable Redis is a warning: serving matters more than caching
        if self.keys.open:
            logger.warning("no master_key or api_keys configured: every caller is accepted")
        self.started = True

    async def shutdown(self) -> None:
        """After uvicorn drained the connections: close the Bedrock pool, then deliver every queued record
        (within BEDROCK_PROXY_SINK_FLUSH_SECONDS; what is left is counted as dropped and logged)."""
        self.draining = True
        await self.transport.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        await self.observability.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # reported to the server, which refuses to start
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = header(scope, b"x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        ctx = RequestContext(request_id)
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        route = ROUTES.get((scope["method"], path))
        kind = route[1] if route is not None else ""
        response_started = False

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        if kind:  # a model call: in flight until it ends, and exactly one CallRecord whatever happens
            ctx_token = current_request.set(ctx)
            self.observability.metrics.request_started(path)
        failure: GatewayError | None = None
        try:
            if route is None:
                raise _no_route(scope["method"], path)
            if kind:
                # read here so a failure record can carry the client's metadata; the handler reads it again
                ctx.body = await read_body(receive, self.max_body_bytes)
                receive = _replay(ctx.body, receive)
                ctx.principal = self.keys.authenticate(scope)
                self.guard.admit(ctx.principal)
            await route[0](self, scope, receive, tracked_send, ctx)
        except GatewayError as error:
            failure = error
            if response_started:
                logger.warning("error after the response started: %s", error.message)
            else:
                await send_error(send, error, ctx.trace_headers() + list(getattr(error, "headers", ())))
        except ClientDisconnected:
            failure = _client_closed()
        except asyncio.CancelledError:
            failure = _client_closed()
            raise
        except Exception:
            logger.exception("unexpected error while serving %s %s", scope["method"], path)
            failure = GatewayError(
                500,
                f"The gateway failed unexpectedly (request id {request_id}). It has been logged;"
                " retry, and report the request id if it happens again.",
                type="api_error",
                code="internal_error",
            )
            if not response_started:
                await send_error(send, failure, ctx.trace_headers())
        finally:
            if kind:
                if not ctx.recorded:
                    if failure is None:  # a handler that returned without recording: still counted
                        failure = GatewayError(
                            500, "The request ended without an outcome.", type="api_error", code="no_outcome"
                        )
                    self.recorder.submit(self.recorder.failure(ctx, kind, failure))
                self.observability.metrics.request_ended(path)
                current_request.reset(ctx_token)
            request_id_var.reset(token)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body to the handler, then passes through (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _client_closed() -> GatewayError:
    return GatewayError(
        499,
        "The client closed the connection before the answer was complete.",
        type="api_error",
        code="client_closed_request",
    )


def _no_route(method: str, path: str) -> GatewayError:
    if path in _PATHS:
        allowed = sorted(m for m, p in ROUTES if p == path)
        return GatewayError(
            405,
            f"{method} is not allowed on {path}: use {' or '.join(allowed)}.",
            code="method_not_allowed",
        )
    return GatewayError(
        404,
        f"No route {method} {path}. This gateway serves /v1/chat/completions, /v1/embeddings, /v1/models,"
        " /model/info, /health and /metrics.",
        code="not_found",
    )
