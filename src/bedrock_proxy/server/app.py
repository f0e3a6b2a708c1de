"""The gateway as one plain ASGI application: a route table, per-request context, OpenAI-shaped errors."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bedrock_proxy.anthropic.errors import error_body as anthropic_error_body
from bedrock_proxy.anthropic.errors import error_status as anthropic_error_status
from bedrock_proxy.errors import ErrorCode, GatewayError
from bedrock_proxy.observability.hub import Observability
from bedrock_proxy.observability.logs import request_id_var
from bedrock_proxy.router.router import Router
from bedrock_proxy.server import (
    chat,
    embeddings,
    info,
    key_routes,
    messages,
    openapi,
    responses,
    spend_routes,
    team_routes,
)
from bedrock_proxy.server.auth import KeyRing
from bedrock_proxy.server.context import RequestContext, current_request
from bedrock_proxy.server.deep_health import DeepHealth, DeepHealthCache
from bedrock_proxy.server.health import BackgroundHealth
from bedrock_proxy.server.http import (
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    header,
    read_request_body,
    send_error,
)
from bedrock_proxy.server.images import ImageFetcher
from bedrock_proxy.server.protocol import ConnectionLimits
from bedrock_proxy.server.records import Recorder

if TYPE_CHECKING:
    from bedrock_proxy.bedrock.provider import Provider
    from bedrock_proxy.bedrock.transport import BedrockTransport
    from bedrock_proxy.cache import ResponseCaching
    from bedrock_proxy.config.schema import Config, Deployment
    from bedrock_proxy.control.directory import KeyDirectory
    from bedrock_proxy.spend import KeyGuard, SpendLedger
    from bedrock_proxy.spend.response_store import ResponseStore

logger = logging.getLogger("bedrock_proxy.server")

Handler = Callable[["Gateway", Scope, Receive, Send, RequestContext], Awaitable[None]]

ROUTES: dict[tuple[str, str], tuple[Handler, str]] = {}
for _prefix in ("", "/v1"):
    ROUTES[("POST", f"{_prefix}/chat/completions")] = (chat.chat_completions, "chat")
    ROUTES[("POST", f"{_prefix}/embeddings")] = (embeddings.embeddings, "embedding")
    ROUTES[("GET", f"{_prefix}/models")] = (info.models, "")
    ROUTES[("GET", f"{_prefix}/model/info")] = (info.model_info, "")
    ROUTES[("POST", f"{_prefix}/responses")] = (responses.create_response, "chat")
ROUTES[("POST", "/v1/messages")] = (messages.messages, "chat")
ROUTES[("POST", "/v1/messages/count_tokens")] = (messages.count_tokens, "")
ROUTES[("HEAD", "/")] = (info.root, "")  # Claude Code's first request: is the gateway there
ROUTES[("GET", "/")] = (info.root, "")
ROUTES[("GET", "/health")] = (info.health, "")
ROUTES[("GET", "/health/liveliness")] = (info.liveliness, "")
ROUTES[("GET", "/health/liveness")] = (info.liveliness, "")
ROUTES[("GET", "/health/readiness")] = (info.readiness, "")
ROUTES[("GET", "/health/models")] = (info.deep_health, "")
ROUTES[("GET", "/metrics")] = (info.metrics, "")
ROUTES[("GET", "/key/info")] = (spend_routes.key_info, "")
ROUTES[("GET", "/spend/logs")] = (spend_routes.spend_logs, "")
ROUTES[("GET", "/global/spend/report")] = (spend_routes.global_spend_report, "")
# LiteLLM's management API (docs/keys.md): master key, or a proxy_admin user's key
ROUTES[("POST", "/key/generate")] = (key_routes.generate, "")
ROUTES[("POST", "/key/update")] = (key_routes.update, "")
ROUTES[("POST", "/key/delete")] = (key_routes.delete, "")
ROUTES[("POST", "/key/regenerate")] = (key_routes.regenerate, "")
ROUTES[("POST", "/key/block")] = (key_routes.block, "")
ROUTES[("POST", "/key/unblock")] = (key_routes.unblock, "")
ROUTES[("GET", "/key/list")] = (key_routes.list_keys, "")
ROUTES[("POST", "/team/new")] = (team_routes.new_team, "")
ROUTES[("POST", "/team/update")] = (team_routes.update_team, "")
ROUTES[("POST", "/team/delete")] = (team_routes.delete_teams, "")
ROUTES[("POST", "/team/block")] = (team_routes.block_team, "")
ROUTES[("POST", "/team/unblock")] = (team_routes.unblock_team, "")
ROUTES[("GET", "/team/info")] = (team_routes.team_info, "")
ROUTES[("GET", "/team/list")] = (team_routes.list_teams, "")
ROUTES[("POST", "/user/new")] = (team_routes.new_user, "")
ROUTES[("POST", "/user/update")] = (team_routes.update_user, "")
ROUTES[("POST", "/user/delete")] = (team_routes.delete_users, "")
ROUTES[("GET", "/user/info")] = (team_routes.user_info, "")
ROUTES[("GET", "/user/list")] = (team_routes.list_users, "")
ROUTES[("GET", "/openapi.json")] = (openapi.openapi_document, "")
_PATHS = {path for _, path in ROUTES}
# routes with an id at the end of the path: (method, path prefix) -> handler
PREFIX_ROUTES: dict[tuple[str, str], Handler] = {}
for _prefix in ("", "/v1"):
    PREFIX_ROUTES[("GET", f"{_prefix}/responses/")] = responses.retrieve_response
    PREFIX_ROUTES[("DELETE", f"{_prefix}/responses/")] = responses.delete_response
# routes with an id inside the path: (method, the path as openapi.py documents it) -> (its pattern, handler)
PATTERN_ROUTES: dict[tuple[str, str], tuple[re.Pattern[str], Handler]] = {
    ("POST", "/key/{key}/regenerate"): (re.compile(r"/key/[^/]+/regenerate"), key_routes.regenerate_named),
}
# the client API of each model route, named in its records (failures too); a client API with its own error
# shape (ERROR_BODIES) gets every error of its routes, 401s included, in that shape
CLIENT_APIS = {
    **{f"{prefix}/chat/completions": "openai.chat" for prefix in ("", "/v1")},
    **{f"{prefix}/embeddings": "openai.embeddings" for prefix in ("", "/v1")},
    **{f"{prefix}/responses": "openai.responses" for prefix in ("", "/v1")},
    "/v1/messages": "anthropic.messages",
    "/v1/messages/count_tokens": "anthropic.messages",
}
ERROR_BODIES: dict[str, Callable[[GatewayError], dict[str, Any]]] = {
    "anthropic.messages": anthropic_error_body
}
# a client API whose HTTP status for an error differs from the gateway's (Anthropic's 529 overloaded)
ERROR_STATUSES: dict[str, Callable[[GatewayError], int]] = {"anthropic.messages": anthropic_error_status}


class Gateway:
    """Everything one gateway process holds: config, router, Bedrock provider, keys, observability."""

    def __init__(
        self,
        config: Config,
        *,
        observability: Observability,
        ledger: SpendLedger | None,
        router: Router,
        transport: BedrockTransport,
        provider: Provider,
        keys: KeyRing,
        guard: KeyGuard,
        cache: ResponseCaching | None,
        images: ImageFetcher,
        deep_health: DeepHealthCache[DeepHealth] | None = None,
        responses: ResponseStore | None = None,
        control: KeyDirectory | None = None,
    ) -> None:
        """Takes its parts already built: bedrock_proxy.wiring.build_gateway builds them from the config."""
        self.config = config
        self.settings = config.settings
        self.observability = observability
        self.ledger = ledger  # what each key spent (GET /key/info, /spend/logs), when spend is kept
        self.router = router
        self.transport = transport  # the Bedrock connection pool, closed at shutdown
        self.provider = provider  # a BedrockProvider, or it inside observability's RawLoggingProvider
        self.keys = keys
        self.guard = guard  # per-key spend_limit, rpm and tpm, checked before the handler runs
        self.images = images
        self.cache = cache  # None when caching is off
        # GET /health/models' results, reused for a while: real Bedrock calls are not made per request
        self.deep_health = deep_health if deep_health is not None else DeepHealthCache()
        self.responses = responses  # the Responses API's stored responses (opened on first use)
        # generated keys, teams and users in memory (key management: master_key and a database), or None
        self.control = control
        self.recorder = Recorder(self.observability, log_messages=not self.settings.turn_off_message_logging)
        # below Bedrock's 25,000,000-byte request limit by default: what Bedrock would refuse is refused here
        self.max_body_bytes = int(self.settings.max_request_size_mb * 1024 * 1024)
        self.max_json_depth = self.settings.max_json_depth
        self.connection_limits = ConnectionLimits.from_settings(self.settings)  # read by server/protocol.py
        self.started = False
        self.draining = False
        self.health_checks: BackgroundHealth | None = None  # set by startup
        self.on_started: Callable[[], None] | None = None  # `serve` logs "listening on ..." with it

    def drop_params(self, deployment: Deployment) -> bool:
        """litellm_settings.drop_params (config refuses drop_params as a litellm_params key)."""
        return bool(self.settings.drop_params)

    def request_timeout(self) -> float:
        return float(self.settings.request_timeout or 600)

    async def startup(self) -> None:
        await self.observability.start()
        await self.router.start()  # the shared limits' store; unreachable is handled by its fail mode
        if self.control is not None:  # every generated key loaded before the first request
            await self.control.start()
        if self.cache is not None:
            await self.cache.start()  # an unreachable Redis is a warning: serving matters more than caching
        if self.keys.open:
            logger.warning("no master_key or api_keys configured: every caller is accepted")
        self.health_checks = BackgroundHealth.from_gateway(self)  # None unless background_health_checks
        # Everything loaded so far (botocore's models, the config, modules) lives as long as the process: move
        # it out of the collector's reach, so a full collection no longer stalls requests for ~30 ms.
        gc.collect()
        gc.freeze()
        self.started = True
        if self.on_started is not None:
            self.on_started()

    async def shutdown(self) -> None:
        """After uvicorn drained the connections: close the Bedrock pool, then deliver every queued record
        (within BEDROCK_PROXY_SINK_FLUSH_SECONDS; what is left is counted as dropped and logged)."""
        self.draining = True
        if self.health_checks is not None:
            await self.health_checks.stop()  # before the transport its probes use closes
        await self.transport.aclose()
        await self.guard.drain()  # the last budget settlements, before the store they go to closes
        await self.router.aclose()
        if self.control is not None:
            await self.control.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.responses is not None:
            await self.responses.close()
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
        request_id = request_id_of(scope)
        token = request_id_var.set(request_id)
        ctx = RequestContext(request_id)
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/")
        route = ROUTES.get((scope["method"], path)) or _prefix_route(scope["method"], path)
        kind = route[1] if route is not None else ""
        ctx.client_api = CLIENT_APIS.get(path, "")
        error_shape = ERROR_BODIES.get(ctx.client_api)
        error_status = ERROR_STATUSES.get(ctx.client_api)
        response_started = False
        response_finished = False

        async def tracked_send(message: Message) -> None:
            nonlocal response_started, response_finished
            if message["type"] == "http.response.start":
                response_started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                response_finished = True
            await send(message)

        if kind:  # a model call: in flight until it ends, and exactly one CallRecord whatever happens
            ctx_token = current_request.set(ctx)
            self.observability.metrics.request_started(path)
        failure: GatewayError | None = None
        refused = False  # no valid key: answered from the headers alone, the body never read
        watch: DisconnectWatch | None = None
        try:
            if route is None:
                raise _no_route(scope["method"], path)
            if kind:
                try:
                    ctx.principal = self.keys.authenticate(scope)
                except GatewayError:
                    refused = True
                    raise
                # read here so a failure record can carry the client's metadata; the handler reads it again
                ctx.body = await read_request_body(scope, receive, self.max_body_bytes)
                ctx.release_slot = await self.guard.admit(ctx.principal, ctx.request_id)
                watch = DisconnectWatch(receive, lambda: response_finished)
                try:
                    await route[0](self, scope, watch.replay(ctx.body), tracked_send, ctx)
                finally:
                    watch.stop()  # before any error answer: from here on a disconnect cancels nothing
            else:
                await route[0](self, scope, receive, tracked_send, ctx)
        except GatewayError as error:
            failure = error
            if response_started:
                logger.warning("error after the response started: %s", error.message)
            else:
                await send_error(
                    send, error, ctx.trace_headers() + list(error.headers), error_shape, error_status
                )
        except ClientDisconnected:
            failure = _client_closed()
        except asyncio.CancelledError:
            failure = _client_closed()
            if watch is None or not watch.fired:
                raise  # cancelled from outside (shutdown): let it end the task
            # the client left: the cancellation was ours, the request ends here with its 499 record
        except Exception:
            logger.exception("unexpected error while serving %s %s", scope["method"], path)
            failure = GatewayError(
                500,
                f"The gateway failed unexpectedly (request id {request_id}). It has been logged;"
                " retry, and report the request id if it happens again.",
                type="api_error",
                code=ErrorCode.INTERNAL_ERROR,
            )
            if not response_started:
                await send_error(send, failure, ctx.trace_headers(), error_shape, error_status)
        finally:
            if kind:
                if refused:
                    assert failure is not None
                    self._count_refusal(ctx, kind, failure, error_status)
                elif not ctx.recorded:
                    if failure is None:  # a handler that returned without recording: still counted
                        failure = GatewayError(
                            500,
                            "The request ended without an outcome.",
                            type="api_error",
                            code=ErrorCode.NO_OUTCOME,
                        )
                    answered = error_status(failure) if error_status else failure.status
                    self.recorder.submit(self.recorder.failure(ctx, kind, failure, status=answered))
                ctx.settle_reservation()  # settled with its record; never left behind whatever happened
                if ctx.release_slot is not None:  # the key's in-flight slot (max_parallel_requests)
                    await _release(ctx.release_slot)
                self.observability.metrics.request_ended(path)
                current_request.reset(ctx_token)
            request_id_var.reset(token)

    def _count_refusal(
        self,
        ctx: RequestContext,
        kind: str,
        error: GatewayError,
        error_status: Callable[[GatewayError], int] | None,
    ) -> None:
        """A caller without a valid key: counted in /metrics and logged, but not sent to any sink. Its record
        carries nothing of the body (never read), and a flood of strangers is not traced in Langfuse."""
        answered = error_status(error) if error_status else error.status
        record = self.recorder.failure(ctx, kind, error, body={}, status=answered)
        self.observability.metrics.request_finished(record, 0.0)
        logger.info("%s refused with %d (%s), request id %s", kind, answered, error.code, ctx.request_id)


async def _release(release: Callable[[], Awaitable[None]]) -> None:
    """Give a slot back; a store that fails here is logged (its lease frees the slot later)."""
    try:
        await asyncio.shield(release())
    except Exception as exc:
        logger.warning("could not give back an in-flight slot: %s", exc)


def _prefix_route(method: str, path: str) -> tuple[Handler, str] | None:
    for (route_method, prefix), handler in PREFIX_ROUTES.items():
        if method == route_method and path.startswith(prefix):
            return handler, ""
    for (route_method, _), (pattern, handler) in PATTERN_ROUTES.items():
        if method == route_method and pattern.fullmatch(path):
            return handler, ""
    return None


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The client's x-request-id when it is a plain token (it ends up in logs, headers and traces), else a
    fresh one."""
    supplied = header(scope, b"x-request-id")
    if supplied is not None and _REQUEST_ID.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


class DisconnectWatch:
    """Cancels the request's task when the client disconnects before its answer is complete, whether the
    handler waits on Bedrock, on a stream's first token or is sending: the upstream call is cancelled with it
    (the transport closes, never pools, a connection it did not finish reading).

    One task per model call, created once the body is read; it is the only reader of `receive` from then on.
    """

    __slots__ = ("_finished", "_task", "_watcher", "fired")

    def __init__(self, receive: Receive, finished: Callable[[], bool]) -> None:
        self.fired = False
        self._finished = finished
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # uvicorn also says "disconnect" once the response is complete: only a real one cancels
                if not self._finished():
                    self.fired = True
                    self._task.cancel()
                return

    def stop(self) -> None:
        """Stop watching, once, when the handler ended. If the client left (`fired`), the cancellation it
        caused is taken back, so the request's task ends normally, with its 499 record."""
        self._watcher.cancel()
        if self.fired:
            self._task.uncancel()

    def replay(self, body: bytes) -> Receive:
        """The handler's receive: the body already read, then (if asked again) the disconnect."""
        pending = True

        async def receive() -> Message:
            nonlocal pending
            if pending:
                pending = False
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.shield(self._watcher)
            return {"type": "http.disconnect"}

        return receive


def _client_closed() -> GatewayError:
    return GatewayError(
        499,
        "The client closed the connection before the answer was complete.",
        type="api_error",
        code=ErrorCode.CLIENT_CLOSED_REQUEST,
    )


def _no_route(method: str, path: str) -> GatewayError:
    if path in _PATHS:
        allowed = sorted(m for m, p in ROUTES if p == path)
        return GatewayError(
            405,
            f"{method} is not allowed on {path}: use {' or '.join(allowed)}.",
            code=ErrorCode.METHOD_NOT_ALLOWED,
        )
    return GatewayError(
        404,
        f"No route {method} {path}. This gateway serves /v1/chat/completions, /v1/responses, /v1/messages,"
        " /v1/embeddings, /v1/models, /model/info, /health and /metrics.",
        code=ErrorCode.NOT_FOUND,
    )
