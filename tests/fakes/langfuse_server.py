"""A local server that keeps Langfuse's ingestion contract, for tests (a real Langfuse needs ClickHouse & co).

Implements: GET /api/public/health; POST /api/public/otel/v1/traces (OTLP JSON or protobuf, optional gzip,
HTTP Basic auth -> 401, invalid trace/span ids -> 400 for the whole export, answers {}); POST
/api/public/ingestion (always 207 with per-event successes/errors). Test controls: GET /_test/spans,
GET /_test/events, GET /_test/stats, POST /_test/mode {"status", "delay", "down", "retry_after"},
POST /_test/reset. Run in a thread (`FakeLangfuse().start()`) or as
`python -m tests.fakes.langfuse_server --port N --public-key pk --secret-key sk`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import re
import threading
from typing import Any

import orjson
from aiohttp import web

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
EVENT_TYPES = frozenset(
    {
        "trace-create",
        "generation-create",
        "generation-update",
        "span-create",
        "span-update",
        "event-create",
        "score-create",
        "sdk-log",
    }
)


def decode_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [decode_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: decode_value(kv.get("value", {})) for kv in value["kvlistValue"].get("values", [])}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def decode_attributes(attrs: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: decode_value(a.get("value", {})) for a in attrs or []}


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex() if value else ""


def protobuf_to_json(body: bytes) -> dict[str, Any]:
    """Decode an ExportTraceServiceRequest into the OTLP JSON shape (hex ids)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    message = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    data = json_format.MessageToDict(message)
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _b64_to_hex(span[key])
    return data


class InvalidExport(ValueError):
    pass


def flatten_spans(data: dict[str, Any], content_type: str) -> list[dict[str, Any]]:
    """Spans with decoded attributes, resource and scope; raises InvalidExport on any bad id."""
    out = []
    for rs in data.get("resourceSpans", []) or []:
        resource = decode_attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans", []) or []:
            scope = (ss.get("scope") or {}).get("name", "")
            for span in ss.get("spans", []) or []:
                trace_id = str(span.get("traceId", "")).lower()
                span_id = str(span.get("spanId", "")).lower()
                parent = str(span.get("parentSpanId", "") or "").lower()
                if (
                    not _HEX32.match(trace_id)
                    or not _HEX16.match(span_id)
                    or (parent and not _HEX16.match(parent))
                ):
                    raise InvalidExport(f"invalid trace/span id: traceId={trace_id!r} spanId={span_id!r}")
                status = span.get("status") or {}
                code = status.get("code", 0)
                if isinstance(code, str):  # protobuf JSON mapping spells enums by name
                    code = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(code, 0)
                out.append(
                    {
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "parent_span_id": parent or None,
                        "name": span.get("name", ""),
                        "start_ns": int(span.get("startTimeUnixNano", 0)),
                        "end_ns": int(span.get("endTimeUnixNano", 0)),
                        "attributes": decode_attributes(span.get("attributes")),
                        "status_code": code,
                        "status_message": status.get("message"),
                        "resource": resource,
                        "scope": scope,
                        "content_type": content_type,
                    }
                )
    return out


class FakeLangfuse:
    """The server plus its recorded state; thread-safe reads through `spans`, `events`, `stats`."""

    def __init__(self, public_key: str = "pk-lf-test", secret_key: str = "sk-lf-test") -> None:
        self.public_key = public_key
        self.secret_key = secret_key
        self.lock = threading.Lock()
        self._spans: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self.counts = {
            "otel_requests": 0,
            "ingestion_requests": 0,
            "rejected": 0,
            "unauthorized": 0,
            "gzip_requests": 0,
        }
        self.mode: dict[str, Any] = {"status": 200, "delay": 0.0, "down": False, "retry_after": None}
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- state
    @property
    def spans(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._spans)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._events)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_mode(self, **mode: Any) -> None:
        with self.lock:
            self.mode.update(mode)

    def reset(self) -> None:
        with self.lock:
            self._spans.clear()
            self._events.clear()
            for key in self.counts:
                self.counts[key] = 0
            self.mode = {"status": 200, "delay": 0.0, "down": False, "retry_after": None}

    # ---------------------------------------------------------------- HTTP
    def app(self) -> web.Application:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_get("/api/public/health", self.health)
        app.router.add_post("/api/public/otel/v1/traces", self.otel_traces)
        app.router.add_post("/api/public/ingestion", self.ingestion)
        app.router.add_get("/_test/spans", self.test_spans)
        app.router.add_get("/_test/events", self.test_events)
        app.router.add_get("/_test/stats", self.test_stats)
        app.router.add_post("/_test/mode", self.test_mode)
        app.router.add_post("/_test/reset", self.test_reset)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "OK", "version": "4.0.0-fake"})

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.public_key and password == self.secret_key

    async def _fault(self, request: web.Request) -> web.StreamResponse | None:
        """Apply the test mode: delay, a dropped connection, or an error status."""
        with self.lock:
            mode = dict(self.mode)
        if mode.get("delay"):
            await asyncio.sleep(float(mode["delay"]))
        if mode.get("down"):
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("fake langfuse is down")
        status = int(mode.get("status") or 200)
        if status != 200:
            with self.lock:
                self.counts["rejected"] += 1
            headers = {"Retry-After": str(mode["retry_after"])} if mode.get("retry_after") is not None else {}
            await request.read()  # as a real server does: an unread body would be parsed as the next request
            return web.json_response({"message": f"fake error {status}"}, status=status, headers=headers)
        return None

    async def _body(self, request: web.Request) -> bytes:
        """The decoded body. aiohttp already inflates gzip request bodies; inflate again only if needed."""
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            with self.lock:
                self.counts["gzip_requests"] += 1
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
        return body

    async def otel_traces(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            self.counts["otel_requests"] += 1
        fault = await self._fault(request)
        if fault is not None:
            return fault
        if not self._authorized(request):
            with self.lock:
                self.counts["unauthorized"] += 1
            return web.json_response({"message": "Invalid credentials"}, status=401)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = await self._body(request)
        try:
            if content_type == "application/x-protobuf":
                data = protobuf_to_json(body)
            elif content_type == "application/json":
                data = orjson.loads(body)
            else:
                return web.json_response(
                    {"message": f"unsupported content type {content_type!r}"}, status=415
                )
            spans = flatten_spans(data, content_type)
        except InvalidExport as exc:
            return web.json_response({"message": str(exc)}, status=400)
        except Exception as exc:  # undecodable body
            return web.json_response({"message": f"cannot decode body: {exc}"}, status=400)
        for span in spans:
            span["ingestion_version"] = request.headers.get("x-langfuse-ingestion-version")
        with self.lock:
            self._spans.extend(spans)
        return web.json_response({})

    async def ingestion(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            self.counts["ingestion_requests"] += 1
        fault = await self._fault(request)
        if fault is not None:
            return fault
        if not self._authorized(request):
            with self.lock:
                self.counts["unauthorized"] += 1
            return web.json_response({"message": "Invalid credentials"}, status=401)
        try:
            batch = orjson.loads(await self._body(request)).get("batch", [])
        except Exception as exc:
            return web.json_response({"message": f"invalid body: {exc}"}, status=400)
        successes, errors = [], []
        for event in batch:
            event_id = event.get("id") if isinstance(event, dict) else None
            if not event_id or not isinstance(event.get("body"), dict):
                errors.append({"id": event_id or "", "status": 400, "message": "invalid event"})
            elif event.get("type") not in EVENT_TYPES:
                errors.append({"id": event_id, "status": 400, "message": "Event type not accepted"})
            else:
                successes.append({"id": event_id, "status": 201})
                with self.lock:
                    self._events.append(event)
        return web.json_response({"successes": successes, "errors": errors}, status=207)

    async def test_spans(self, request: web.Request) -> web.Response:
        return web.json_response({"spans": self.spans})

    async def test_events(self, request: web.Request) -> web.Response:
        return web.json_response({"events": self.events})

    async def test_stats(self, request: web.Request) -> web.Response:
        with self.lock:
            return web.json_response(dict(self.counts))

    async def test_mode(self, request: web.Request) -> web.Response:
        self.set_mode(**(await request.json()))
        return web.json_response(self.mode)

    async def test_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({})

    # ---------------------------------------------------------------- running
    async def _serve(self, port: int) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self, port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve(port))  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()  # type: ignore[union-attr]

        self._thread = threading.Thread(target=run, name="fake-langfuse", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake langfuse did not start")
        return self.url

    def stop(self) -> None:
        """Stop listening (connections are refused until start(port=self.port) again)."""
        if self._loop is None:
            return
        loop = self._loop
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None
        self._runner = None

    def restart(self) -> None:
        port = self.port
        self.stop()
        self.start(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--public-key", default="pk-lf-test")
    parser.add_argument("--secret-key", default="sk-lf-test")
    args = parser.parse_args(argv)
    server = FakeLangfuse(args.public_key, args.secret_key)
    web.run_app(server.app(), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
