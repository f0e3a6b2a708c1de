"""The emulator as one plain ASGI app: routing, auth, controls and faults, then each operation's answer.

Hot path (non-streaming Converse, verification off): one dict of headers, one orjson parse, one dump, two
`send` calls with precomputed header lists. Everything slow (SigV4, faults, streaming) is opt-in per request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import logging
import os
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import orjson

from bedrock_proxy.emulator import control_plane, errors, native
from bedrock_proxy.emulator.catalogue import ModelSpec, resolve
from bedrock_proxy.emulator.controls import NO_CONTROLS, Controls, parse, split_prefix
from bedrock_proxy.emulator.conversation import Answer, answer, filtered_answer, validate
from bedrock_proxy.emulator.converse_wire import converse_body, metadata_event, padding, stream_events
from bedrock_proxy.emulator.errors import ERROR_FAULTS, EmulatorError
from bedrock_proxy.emulator.eventstream import encode_event, encode_exception
from bedrock_proxy.emulator.options import EmulatorOptions
from bedrock_proxy.emulator.prompt_cache import PromptCache, cache_prefixes
from bedrock_proxy.emulator.sigv4 import SigV4Verifier
from bedrock_proxy.emulator.stats import Stats

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BODY_LIMIT = 25_000_000
_JSON = (b"content-type", b"application/json")
_EVENTSTREAM = (b"content-type", b"application/vnd.amazon.eventstream")
_BEDROCK_JSON = (b"x-amzn-bedrock-content-type", b"application/json")
_ACTIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}
_CONTROL_PLANE: dict[str, Callable[[str, str, str], dict[str, Any]]] = {
    "ListFoundationModels": lambda target, query, region: control_plane.list_foundation_models(query, region),
    "GetFoundationModel": lambda target, query, region: control_plane.get_foundation_model(target, region),
    "ListInferenceProfiles": lambda target, query, region: control_plane.list_inference_profiles(
        query, region
    ),
    "GetInferenceProfile": lambda target, query, region: control_plane.get_inference_profile(target, region),
}
_STREAMING = frozenset({"ConverseStream", "InvokeModelWithResponseStream"})


# the families whose Converse cache points Bedrock honours: Claude, and Nova (Micro, Lite, Pro, Premier,
# 2 Lite): AWS's explicit prompt caching (docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html)
_CACHING = frozenset({"anthropic", "nova"})


class _Handled(Exception):
    """The response was already dealt with (connection reset, client gone): send nothing more."""


class EmulatorApp:
    """ASGI callable emulating Bedrock Runtime and the Bedrock control plane."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self.stats = Stats()
        self.verifier = (
            SigV4Verifier(
                self.options.access_key,
                self.options.secret_key,
                self.options.region,
                self.options.bearer_token,
            )
            if self.options.verify
            else None
        )
        self._rng = random.Random(self.options.seed)
        self._rates = list(self.options.fault_rates.items())
        self._id_prefix = os.urandom(10).hex()
        self._ids = itertools.count(1)
        self._prompt_cache = PromptCache()

    # --- ASGI entry ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def _request_id(self) -> bytes:
        n = next(self._ids)
        p = self._id_prefix
        return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-{n:012x}".encode()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/_emulator/"):
            await self._admin(scope["method"], path, receive, send)
            return
        request_id = self._request_id()
        state = _Response(send, request_id, self.stats)
        try:
            await self._dispatch(scope, receive, state)
        except EmulatorError as error:
            if not state.started:
                await state.error(error)
        except _Handled:
            pass
        except Exception:
            log.exception("emulator failed on %s %s", scope["method"], path)
            if not state.started:
                await state.error(errors.from_fault("internal"))

    # --- admin --------------------------------------------------------------------------------------------

    async def _admin(self, method: str, path: str, receive: Receive, send: Send) -> None:
        await _read_body(receive)
        if path == "/_emulator/health":
            body = b'{"status":"ok"}'
        elif path == "/_emulator/stats":
            body = orjson.dumps(self.stats.snapshot())
        elif path == "/_emulator/reset" and method == "POST":
            self.stats.reset()
            body = b'{"status":"reset"}'
        else:
            await _send_json(send, 404, b'{"message":"Unknown emulator endpoint"}', [])
            return
        await _send_json(send, 200, body, [])

    # --- dispatch -----------------------------------------------------------------------------------------

    async def _dispatch(self, scope: Scope, receive: Receive, state: _Response) -> None:
        started = time.perf_counter()
        method = scope["method"]
        path, prefix = split_prefix(scope["path"])
        operation, target = _route(method, path)
        self.stats.count(operation, target if operation in _ACTIONS.values() else None, prefix)
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if body is None:  # checked first: the signature covers a body that was dropped, so cannot be checked
            raise errors.constraint("body", "<binary>", f"have length less than or equal to {BODY_LIMIT}")
        if self.verifier is not None:
            self.verifier.verify(
                method,
                scope.get("raw_path") or scope["path"].encode(),
                scope.get("query_string", b""),
                headers,
                body,
            )
        controls = NO_CONTROLS
        if "x-emulator" in headers:
            controls = parse(headers["x-emulator"])
        if prefix:
            controls = controls.merged(parse(prefix))
        query = scope.get("query_string", b"").decode("latin-1")
        region = self.options.region
        handler = _CONTROL_PLANE.get(operation)
        if handler is not None:
            build = lambda: handler(target, query, region)  # noqa: E731 - runs after faults and pauses
            await self._control_plane(state, controls, receive, build)
        else:
            await self._data_plane(operation, target, body, controls, state, receive, started)

    async def _control_plane(
        self, state: _Response, controls: Controls, receive: Receive, build: Callable[[], dict[str, Any]]
    ) -> None:
        if controls.fault is not None:
            self.stats.by_fault[controls.fault] += 1
            await self._pre_answer_fault(controls.fault, state, controls, receive)
        await self._pause(controls)
        await state.json(orjson.dumps(build()))

    async def _data_plane(
        self,
        operation: str,
        model_id: str,
        raw: bytes,
        controls: Controls,
        state: _Response,
        receive: Receive,
        started: float,
    ) -> None:
        region = self.options.region
        resolved = resolve(model_id, region)
        if resolved is None:
            raise errors.validation(errors.INVALID_MODEL)
        spec = resolved.spec
        if operation != "CountTokens" and not resolved.via_profile and not spec.on_demand_in(region):
            raise errors.validation(errors.on_demand_unsupported(model_id))
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise errors.malformed("request body is not valid JSON") from None
        if operation == "CountTokens":
            await state.json(orjson.dumps({"inputTokens": _count_tokens(body, spec)}))
            return
        if spec.is_embedding:
            await self._embeddings(operation, spec, body, controls, state, receive)
            return
        if operation in ("Converse", "ConverseStream"):
            turn = validate(body, spec, streaming=operation == "ConverseStream")
            if spec.native in _CACHING and isinstance(body, dict):  # validate refused anything else
                turn.cache_prefixes = cache_prefixes(body, spec.model_id)
        else:
            turn = native.parse_text(body, spec)
        if turn.marker:
            marked = parse(turn.marker)
            if marked.fault == "guardrail" and not turn.features.guardrail:
                marked = replace(marked, fault=None)  # no guardrailConfig: no guardrail to intervene
            controls = controls.merged(marked)
        if turn.input_tokens > spec.context_window:
            raise errors.validation(errors.CONTEXT_TOO_LONG)
        fault = controls.fault or self._rate_fault()
        if fault == "stream-error" and controls.fault is None:
            controls = controls.merged(Controls(fault="stream-error"))
        if fault is not None:
            self.stats.by_fault[fault] += 1
        if fault in ("guardrail", "content-filtered"):
            result = filtered_answer(
                turn, "guardrail_intervened" if fault == "guardrail" else "content_filtered"
            )
        else:
            if fault is not None and fault != "stream-error":
                await self._pre_answer_fault(fault, state, controls, receive)
            elif fault == "stream-error" and operation not in _STREAMING:
                raise errors.from_fault(controls.error or "internal")
            result = answer(turn, controls.words, controls.tool)
            self._prompt_cache.account(result, turn)
        stream_fault = controls if fault == "stream-error" else None
        if fault == "slow" and operation in _STREAMING:
            await self._pause(controls, slow=True)  # a slow stream: late first byte
        if operation == "Converse":
            await self._pause(controls, slow=fault == "slow")
            await state.json(converse_body(result, _ms(started)))
        elif operation == "ConverseStream":
            await self._converse_stream(result, controls, stream_fault, state, started)
        elif operation == "InvokeModel":
            await self._pause(controls, slow=fault == "slow")
            rendered = native.render_text(result, spec, state.request_id.decode())
            await state.json(orjson.dumps(rendered), _invoke_headers(result, started))
        else:
            await self._invoke_stream(result, spec, controls, stream_fault, state, started)

    async def _embeddings(
        self,
        operation: str,
        spec: ModelSpec,
        body: Any,
        controls: Controls,
        state: _Response,
        receive: Receive,
    ) -> None:
        if operation in ("Converse", "ConverseStream"):
            raise errors.validation(errors.NOT_A_CHAT_MODEL)
        if operation == "InvokeModelWithResponseStream":
            raise errors.validation(errors.NO_STREAMING)
        marker = native.embedding_marker(body)
        if marker:
            controls = controls.merged(parse(marker))
        fault = controls.fault or self._rate_fault()
        if fault is not None:
            self.stats.by_fault[fault] += 1
            if fault not in ("guardrail", "content-filtered", "stream-error"):
                await self._pre_answer_fault(fault, state, controls, receive)
            elif fault == "stream-error":
                raise errors.from_fault(controls.error or "internal")
        started = time.perf_counter()
        if spec.native == "cohere-embed":
            result, tokens = native.embed_cohere(body, spec, state.request_id.decode())
        else:
            result, tokens = native.embed_titan(body, spec)
        await self._pause(controls, slow=fault == "slow")
        headers = [
            (b"x-amzn-bedrock-input-token-count", str(tokens).encode()),
            (b"x-amzn-bedrock-invocation-latency", str(_ms(started)).encode()),
        ]
        await state.json(orjson.dumps(result), headers)

    # --- faults and pacing --------------------------------------------------------------------------------

    def _rate_fault(self) -> str | None:
        if not self._rates:
            return None
        draw, total = self._rng.random(), 0.0
        for name, rate in self._rates:
            total += rate
            if draw < total:
                return name
        return None

    async def _pre_answer_fault(
        self, fault: str, state: _Response, controls: Controls, receive: Receive | None = None
    ) -> None:
        """Faults that replace or delay the answer: errors, reset, timeout; `slow` only marks the pause."""
        if fault in ERROR_FAULTS:
            raise errors.from_fault(fault)
        if fault == "reset":
            await state.reset(receive)
        if fault == "timeout":
            if receive is not None:
                try:
                    await asyncio.wait_for(_until_disconnect(receive), self.options.timeout_cap)
                except TimeoutError:
                    raise errors.from_fault("model-timeout") from None
                raise _Handled
            await asyncio.sleep(self.options.timeout_cap)
            raise errors.from_fault("model-timeout")

    async def _pause(self, controls: Controls, slow: bool = False) -> None:
        delay = controls.latency if controls.latency is not None else self.options.latency
        if slow and not delay:
            delay = self.options.slow_latency
        if delay > 0:
            await asyncio.sleep(delay)

    # --- streams ------------------------------------------------------------------------------------------

    async def _converse_stream(
        self, result: Answer, controls: Controls, fault: Controls | None, state: _Response, started: float
    ) -> None:
        events = ((kind, payload, is_delta) for kind, payload, is_delta in stream_events(result))
        await self._stream(events, controls, fault, state, [_EVENTSTREAM])
        metadata = metadata_event(result, _ms(started))
        metadata["p"] = padding(0)
        await state.body(encode_event("metadata", orjson.dumps(metadata)), more=False)

    async def _invoke_stream(
        self,
        result: Answer,
        spec: ModelSpec,
        controls: Controls,
        fault: Controls | None,
        state: _Response,
        started: float,
    ) -> None:
        chunks = native.text_chunks(result, spec, state.request_id.decode())
        first_byte = _ms(started) + int(1000 * self._ttft(controls))

        def events() -> Iterable[tuple[str, dict[str, Any], bool]]:
            for index, (chunk, is_delta) in enumerate(chunks):
                if index == len(chunks) - 1:
                    chunk = {
                        **chunk,
                        "amazon-bedrock-invocationMetrics": native.invocation_metrics(
                            result, _ms(started), first_byte
                        ),
                    }
                yield "chunk", {"bytes": base64.b64encode(orjson.dumps(chunk)).decode()}, is_delta

        await self._stream(events(), controls, fault, state, [_EVENTSTREAM, _BEDROCK_JSON])
        await state.body(b"", more=False)

    def _ttft(self, controls: Controls) -> float:
        return controls.ttft if controls.ttft is not None else self.options.ttft

    async def _stream(
        self,
        events: Iterable[tuple[str, dict[str, Any], bool]],
        controls: Controls,
        fault: Controls | None,
        state: _Response,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Send events with time to first token and gaps between deltas; end early with a stream fault."""
        ttft = self._ttft(controls)
        gap = controls.gap if controls.gap is not None else self.options.delta_gap
        after = self.options.stream_error_after if fault is None or fault.after is None else fault.after
        stream_error = ERROR_FAULTS[(fault and fault.error) or "internal"]
        if ttft > 0:
            await asyncio.sleep(ttft)
        await state.start(200, headers)
        deltas = 0
        for index, (kind, payload, is_delta) in enumerate(events):
            if fault is not None and ((is_delta and deltas >= after) or kind == "messageStop"):
                message = orjson.dumps({"message": stream_error.message})
                await state.body(encode_exception(stream_error.stream_type, message), more=False)
                raise _Handled
            if is_delta:
                if deltas and gap > 0:
                    await asyncio.sleep(gap)
                deltas += 1
            payload["p"] = padding(index)
            await state.body(encode_event(kind, orjson.dumps(payload)))
        if fault is not None:  # fewer deltas than `after`: fail before the stream would end
            message = orjson.dumps({"message": stream_error.message})
            await state.body(encode_exception(stream_error.stream_type, message), more=False)
            raise _Handled


class _Response:
    """One response being written; remembers whether headers went out (then errors go in-stream)."""

    __slots__ = ("request_id", "send", "started", "stats")

    def __init__(self, send: Send, request_id: bytes, stats: Stats) -> None:
        self.send = send
        self.request_id = request_id
        self.stats = stats
        self.started = False

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.started = True
        self.stats.by_status[status] += 1
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"x-amzn-requestid", self.request_id)],
            }
        )

    async def body(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def json(
        self, body: bytes, extra: list[tuple[bytes, bytes]] | None = None, status: int = 200
    ) -> None:
        headers = [_JSON, (b"content-length", str(len(body)).encode())]
        if extra:
            headers.extend(extra)
        await self.start(status, headers)
        await self.body(body, more=False)

    async def error(self, error: EmulatorError) -> None:
        error_type = (error.code + error.error_type_suffix).encode()
        await self.json(
            orjson.dumps({"message": error.message}), [(b"x-amzn-errortype", error_type)], error.status
        )

    async def reset(self, receive: Receive | None) -> None:
        """Close the TCP connection without answering (RST), as a dropped connection looks to a client."""
        transport = getattr(getattr(self.send, "__self__", None), "transport", None)
        if transport is None:
            raise errors.from_fault("internal")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        self.started = True
        if receive is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnect(receive), 1.0)
        raise _Handled


def _route(method: str, path: str) -> tuple[str, str]:
    if path.startswith("/model/"):
        model_id, _, action = path[7:].rpartition("/")
        operation = _ACTIONS.get(action)
        if operation is not None and method == "POST" and model_id:
            return operation, model_id
    elif method == "GET":
        if path == "/foundation-models":
            return "ListFoundationModels", ""
        if path.startswith("/foundation-models/"):
            return "GetFoundationModel", path[19:]
        if path == "/inference-profiles":
            return "ListInferenceProfiles", ""
        if path.startswith("/inference-profiles/"):
            return "GetInferenceProfile", path[20:]
    raise EmulatorError(404, "UnknownOperationException", f"No operation for {method} {path}.")


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is over Bedrock's 25 MB limit (read and dropped)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Handled
        size += len(message.get("body", b""))
        if size <= BODY_LIMIT:
            chunks.append(message.get("body", b""))
    return b"".join(chunks) if size <= BODY_LIMIT else None


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _invoke_headers(result: Answer, started: float) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-amzn-bedrock-input-token-count", str(result.input_tokens).encode()),
        (b"x-amzn-bedrock-output-token-count", str(result.output_tokens).encode()),
        (b"x-amzn-bedrock-invocation-latency", str(_ms(started)).encode()),
    ]


def _count_tokens(body: Any, spec: ModelSpec) -> int:
    if spec.native != "anthropic":
        raise errors.validation("The provided model doesn't support counting tokens.")
    source = body.get("input") if isinstance(body, dict) else None
    if not isinstance(source, dict) or len(source) != 1:
        raise errors.malformed("#: required key [input] not found")
    if "converse" in source:
        return validate(source["converse"], spec, streaming=False).input_tokens
    if "invokeModel" in source:
        try:
            raw = base64.b64decode((source["invokeModel"] or {}).get("body", ""), validate=True)
            inner = orjson.loads(raw)
        except (binascii.Error, orjson.JSONDecodeError, TypeError):
            raise errors.malformed("invokeModel.body is not base64-encoded JSON") from None
        return native.parse_text(inner, spec).input_tokens
    raise errors.malformed("#/input: expected one of [converse, invokeModel]")


def create_app(options: EmulatorOptions | None = None) -> EmulatorApp:
    """The ASGI app for these options (also what uvicorn runs)."""
    return EmulatorApp(options)


__all__ = ["EmulatorApp", "create_app"]
