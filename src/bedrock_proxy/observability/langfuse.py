"""Langfuse export: one trace per request, a generation (or embedding) observation, one span per attempt.

Two transports behind one mapping, chosen at start-up (env LANGFUSE_INGESTION=otlp|legacy, default otlp):
- LangfuseOtlpSink: OTLP/HTTP to /api/public/otel/v1/traces (Langfuse v4 and Cloud).
- LangfuseLegacySink: batched events to /api/public/ingestion (self-hosted v2/v3 servers).
Request metadata keys follow LiteLLM's conventions (see docs/observability.md).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from bedrock_proxy.observability import genai, otlp, otlp_json
from bedrock_proxy.observability.record import Attempt, CallRecord
from bedrock_proxy.observability.sink import (
    YIELD_EVERY,
    GzipWriter,
    HttpSink,
    RetryableSinkError,
    map_yielding,
)

log = logging.getLogger("bedrock_proxy.observability")

REDACTED_CONTENT = "redacted-by-bedrock-proxy"
SCOPE = "bedrock-proxy"
MAX_METADATA_KEYS = 50

# Metadata keys with a meaning; every other key of the request metadata lands in the trace metadata.
RESERVED_KEYS = frozenset(
    {
        "trace_id",
        "existing_trace_id",
        "trace_name",
        "trace_user_id",
        "user_id",
        "session_id",
        "tags",
        "environment",
        "trace_metadata",
        "trace_version",
        "trace_release",
        "generation_name",
        "generation_id",
        "parent_observation_id",
        "version",
        "mask_input",
        "mask_output",
        "turn_off_message_logging",
    }
)


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def is_true(value: Any) -> bool:
    """Metadata flags arrive as booleans or as strings from headers and form fields."""
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _environment(value: str | None) -> str | None:
    """Langfuse accepts lower-case [a-z0-9-_], at most 40 chars, not starting with "langfuse"."""
    if not value:
        return None
    env = "".join(c if c.isalnum() or c in "-_" else "-" for c in value.lower())[:40]
    return None if not env or env.startswith("langfuse") else env


@dataclass(frozen=True, slots=True)
class LangfuseOptions:
    turn_off_message_logging: bool = False
    environment: str | None = None  # LANGFUSE_TRACING_ENVIRONMENT, when the request names none
    release: str | None = None  # LANGFUSE_RELEASE


@dataclass(slots=True)
class TraceFields:
    """What a record's metadata says about its trace and generation, resolved once for both transports."""

    trace_key: str  # the client's id (or the request id): raw for legacy, hashed for OTLP
    existing: bool
    trace_name: str
    user_id: str | None
    session_id: str | None
    tags: list[str]
    environment: str | None
    release: str | None
    trace_version: str | None
    version: str | None
    trace_metadata: dict[str, Any]
    generation_name: str
    generation_key: str
    parent_observation_key: str | None
    input: Any
    output: Any
    log_messages: bool


def resolve(record: CallRecord, options: LangfuseOptions) -> TraceFields:
    md = record.metadata
    if not md:  # most requests: every field is its default (the same as below with an empty dict, faster)
        name = f"{record.kind} {record.model_group}"
        log_messages = not options.turn_off_message_logging
        return TraceFields(
            trace_key=record.request_id,
            existing=False,
            trace_name=name,
            user_id=_str(record.user),
            session_id=None,
            tags=[],
            environment=_environment(options.environment),
            release=options.release,
            trace_version=None,
            version=None,
            trace_metadata={},
            generation_name=name,
            generation_key=f"{record.request_id}:generation",
            parent_observation_key=None,
            input=record.input if log_messages else None,
            output=record.output if log_messages else None,
            log_messages=log_messages,
        )
    existing = _str(md.get("existing_trace_id"))
    default_name = f"{record.kind} {record.model_group}"
    tags = md.get("tags")
    if isinstance(tags, str):
        tags = [tags]
    tags = [str(t) for t in tags] if isinstance(tags, (list, tuple)) else []
    trace_metadata: dict[str, Any] = {}
    extra = md.get("trace_metadata")
    if isinstance(extra, dict):
        trace_metadata.update(extra)
    for key, value in md.items():
        if (
            key not in RESERVED_KEYS
            and not key.startswith("langfuse_")
            and len(trace_metadata) < MAX_METADATA_KEYS
        ):
            trace_metadata.setdefault(key, value)
    log_messages = not (options.turn_off_message_logging or is_true(md.get("turn_off_message_logging")))
    input_: Any = None
    output: Any = None
    if log_messages:
        input_ = REDACTED_CONTENT if is_true(md.get("mask_input")) else record.input
        output = REDACTED_CONTENT if is_true(md.get("mask_output")) else record.output
    return TraceFields(
        trace_key=existing or _str(md.get("trace_id")) or record.request_id,
        existing=existing is not None,
        trace_name=_str(md.get("trace_name")) or default_name,
        user_id=_str(md.get("trace_user_id")) or _str(md.get("user_id")) or _str(record.user),
        session_id=_str(md.get("session_id")),
        tags=tags,
        environment=_environment(_str(md.get("environment"))) or _environment(options.environment),
        release=_str(md.get("trace_release")) or options.release,
        trace_version=_str(md.get("trace_version")),
        version=_str(md.get("version")),
        trace_metadata=trace_metadata,
        generation_name=_str(md.get("generation_name")) or default_name,
        generation_key=_str(md.get("generation_id")) or f"{record.request_id}:generation",
        parent_observation_key=_str(md.get("parent_observation_id")),
        input=input_,
        output=output,
        log_messages=log_messages,
    )


# The generation's metadata besides the request id: where the call went and how. Most calls of a deployment
# share these values, so the OTLP encoder caches their encoded attributes, keyed by call_facts.
CALL_FACT_NAMES = (
    "model_group",
    "deployment_id",
    "bedrock_model_id",
    "region",
    "status",
    "stream",
    "finish_reason",
    "api_key_alias",
    "attempts",
    "fallback_used",
    "error_type",
    "cache_hit",
    # a call cut short before Bedrock sent its usage: the tokens (and cost) are the gateway's estimate
    "usage_estimated",
    "client_api",  # which API the client spoke (openai.chat, openai.responses, ...)
)


def call_facts(record: CallRecord) -> tuple[Any, ...]:
    """The values of CALL_FACT_NAMES (None: left out)."""
    return (
        record.model_group,
        record.deployment_id,
        record.bedrock_model_id,
        record.region,
        record.status,
        record.stream,
        record.finish_reason,
        record.api_key_alias,
        len(record.attempts),
        record.fallback_used,
        record.error_type,
        record.cache_hit or None,
        record.usage_estimated or None,
        record.client_api,
    )


def observation_metadata(record: CallRecord) -> dict[str, Any]:
    metadata: dict[str, Any] = {"request_id": record.request_id}
    for name, value in zip(CALL_FACT_NAMES, call_facts(record), strict=True):
        if value is not None:
            metadata[name] = value
    return metadata


def usage_details(record: CallRecord) -> dict[str, int]:
    u = record.usage
    out = {"input": u.prompt_tokens, "output": u.completion_tokens, "total": u.total_tokens}
    if u.cache_read_tokens:
        out["input_cache_read"] = u.cache_read_tokens
    if u.cache_write_tokens:
        out["input_cache_creation"] = u.cache_write_tokens
    return out


def cost_details(record: CallRecord) -> dict[str, float] | None:
    if record.cost is None and record.input_cost is None and record.output_cost is None:
        return None
    input_cost = record.input_cost or 0.0
    output_cost = record.output_cost or 0.0
    total = record.cost if record.cost is not None else input_cost + output_cost
    return {"input": input_cost, "output": output_cost, "total": total}


def generation_window(record: CallRecord) -> tuple[float, float]:
    """The generation spans the upstream calls when we know them, else the whole request. A stream's last
    attempt ends when its first event arrived; the generation goes on until the stream's end."""
    if record.attempts:
        end = (
            max(record.attempts[-1].end_time, record.end_time)
            if record.stream
            else record.attempts[-1].end_time
        )
        return record.attempts[0].start_time, end
    return record.start_time, record.end_time


def attempt_label(index: int, attempt: Attempt) -> str:
    kind = "fallback" if attempt.is_fallback else ("first try" if index == 0 else "retry")
    return f"attempt {index + 1} ({kind}): {attempt.deployment_id}"


def show_attempts(record: CallRecord) -> bool:
    return len(record.attempts) > 1 or record.fallback_used


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, default=str).decode()


# ---------------------------------------------------------------------------------------------- OTLP
def otlp_spans(record: CallRecord, options: LangfuseOptions) -> list[dict[str, Any]]:
    """The spans of one record, with Langfuse's attribute names, in otlp.py's dict shape."""
    return [orjson.loads(span) for span in otlp_span_bytes(record, options)]


def _level(attrs: otlp_json.Attributes, is_error: bool, message: str | None) -> None:
    if is_error:
        attrs.splice(_LEVEL_ERROR)
        attrs.add("langfuse.observation.status_message", message)
    else:
        attrs.splice(_LEVEL_DEFAULT)


def _encoded(value: Any) -> bytes:
    """A value exported as a JSON string (messages, parameters), encoded once as the OTLP string it is:
    orjson.dumps(_json(value)), without decoding the JSON to re-encode it (orjson's output holds no raw
    control character, so quoting it only escapes its backslashes and quotes)."""
    if isinstance(value, str):
        return orjson.dumps(value)
    return otlp_json.quoted(orjson.dumps(value, default=str))


def _trace_attributes(f: TraceFields) -> bytes:
    if f.existing:  # the trace is someone else's: only the environment
        return _TRACE.get((f.environment,), _encode_trace_attributes) if f.environment else b""
    if f.trace_metadata:  # the client's own keys: not worth caching
        return _encode_trace_attributes(_trace_key(f), f.trace_metadata)
    return _TRACE.get(_trace_key(f), _encode_trace_attributes)


def _trace_key(f: TraceFields) -> tuple[Any, ...]:
    tags = tuple(f.tags) if f.tags else None
    return (f.environment, f.trace_name, f.user_id, f.session_id, tags, f.release, f.trace_version)


def _encode_trace_attributes(key: tuple[Any, ...], metadata: dict[str, Any] | None = None) -> bytes:
    attrs = otlp_json.Attributes()
    attrs.add("langfuse.environment", key[0])
    if len(key) > 1:  # a trace of its own
        _, name, user_id, session_id, tags, release, version = key
        attrs.add("langfuse.trace.name", name)
        attrs.add("user.id", user_id)
        attrs.add("session.id", session_id)
        attrs.add("langfuse.trace.tags", list(tags) if tags else None)
        attrs.add("langfuse.release", release)
        attrs.add("langfuse.version", version)
        for name, value in (metadata or {}).items():
            attrs.add(f"langfuse.trace.metadata.{name}", value if isinstance(value, str) else _json(value))
    return attrs.joined()


def otlp_span_bytes(record: CallRecord, options: LangfuseOptions) -> list[bytes]:
    """The spans of one record as OTLP JSON, each the bytes `orjson.dumps` gives for its otlp.span dict."""
    f = resolve(record, options)
    trace_id = otlp.hex_id(f.trace_key, 32)
    root_id = otlp.hex_id(f"{record.request_id}:root", 16)
    gen_id = otlp.hex_id(f.generation_key, 16)
    failed = not record.ok
    error = (record.error_message or record.error_type or f"HTTP {record.status}") if failed else None
    # messages are encoded once, shared by the spans (and attributes) that carry them
    input_json = None if not f.log_messages or f.input is None else _encoded(f.input)
    output_json = None if not f.log_messages or f.output is None else _encoded(f.output)

    trace_attrs = _trace_attributes(f)  # on every span of the trace

    spans: list[bytes] = []
    parent_of_generation: str | None
    if f.existing:
        parent_of_generation = otlp.hex_id(f.parent_observation_key, 16) if f.parent_observation_key else None
    else:
        parent_of_generation = root_id
        root = otlp_json.Attributes(trace_attrs)
        root.splice(_TYPE_SPAN)
        root.add("langfuse.observation.metadata.request_id", record.request_id)
        _level(root, failed, error)
        if f.log_messages:
            root.add_encoded("langfuse.observation.input", input_json)
            root.add_encoded("langfuse.trace.input", input_json)
            root.add_encoded("langfuse.observation.output", output_json)
            root.add_encoded("langfuse.trace.output", output_json)
        spans.append(
            otlp_json.span(
                trace_id=trace_id,
                span_id=root_id,
                name=f.trace_name,
                start=record.start_time,
                end=record.end_time,
                attributes=root.joined(),
                kind=otlp.SPAN_KIND_INTERNAL,
                error=error,
            )
        )

    gen_start, gen_end = generation_window(record)
    costs = cost_details(record)
    gen = otlp_json.Attributes(trace_attrs)
    gen.splice(_MODEL.get((record.kind, record.bedrock_model_id), _model_attributes))
    gen.add_encoded("langfuse.observation.model.parameters", _encoded(record.params or {}))
    gen.add_encoded("langfuse.observation.usage_details", _encoded(usage_details(record)))
    if costs:
        gen.add_encoded("langfuse.observation.cost_details", _encoded(costs))
    gen.add("langfuse.observation.completion_start_time", iso(record.first_token_time))
    gen.add("langfuse.observation.version", f.version)
    _level(gen, failed, error)
    # the GenAI conventions' names too (Langfuse reads them as fallbacks; other OTLP tools as the names)
    gen.splice(
        _GEN_AI.get((genai.operation_name(record), record.model_group, record.bedrock_model_id), _gen_ai)
    )
    gen.add("gen_ai.usage.input_tokens", record.usage.prompt_tokens)
    gen.add("gen_ai.usage.output_tokens", record.usage.completion_tokens)
    if f.log_messages:
        gen.add_encoded("langfuse.observation.input", input_json)
        gen.add_encoded("langfuse.observation.output", output_json)
    gen.add("langfuse.observation.metadata.request_id", record.request_id)
    gen.splice(_CALL_FACTS.get(call_facts(record), _call_facts_attributes))
    spans.append(
        otlp_json.span(
            trace_id=trace_id,
            span_id=gen_id,
            parent_span_id=parent_of_generation,
            name=f.generation_name,
            start=gen_start,
            end=gen_end,
            attributes=gen.joined(),
            kind=otlp.SPAN_KIND_CLIENT,
            error=error,
        )
    )

    if show_attempts(record):
        for i, attempt in enumerate(record.attempts):
            failed_attempt = attempt.status >= 400 or attempt.error_type is not None
            message = (
                attempt.error_message
                or attempt.error_type
                or (f"HTTP {attempt.status}" if failed_attempt else None)
            )
            attrs = otlp_json.Attributes(trace_attrs)
            attrs.splice(_TYPE_SPAN)
            attrs.add("langfuse.observation.metadata.deployment_id", attempt.deployment_id)
            attrs.add("langfuse.observation.metadata.model_group", attempt.model_group)
            attrs.add("langfuse.observation.metadata.bedrock_model_id", attempt.bedrock_model_id)
            attrs.add("langfuse.observation.metadata.region", attempt.region)
            attrs.add("langfuse.observation.metadata.status", attempt.status)
            attrs.add("langfuse.observation.metadata.is_fallback", attempt.is_fallback)
            attrs.add("langfuse.observation.metadata.error_type", attempt.error_type)
            attrs.add("langfuse.observation.level", "WARNING" if failed_attempt else "DEFAULT")
            attrs.add("langfuse.observation.status_message", message if failed_attempt else None)
            spans.append(
                otlp_json.span(
                    trace_id=trace_id,
                    span_id=otlp.hex_id(f"{record.request_id}:attempt:{i}", 16),
                    parent_span_id=gen_id,
                    name=attempt_label(i, attempt),
                    start=attempt.start_time,
                    end=attempt.end_time,
                    attributes=attrs.joined(),
                    kind=otlp.SPAN_KIND_CLIENT,
                    error=message if failed_attempt else None,
                )
            )
    return spans


# Encoded once: attributes whose values are constants, or repeat for every call of a deployment
_TYPE_SPAN = otlp_json.attribute("langfuse.observation.type", "span")
_LEVEL_DEFAULT = otlp_json.attribute("langfuse.observation.level", "DEFAULT")
_LEVEL_ERROR = otlp_json.attribute("langfuse.observation.level", "ERROR")


def _model_attributes(key: tuple[str, str]) -> bytes:
    kind, bedrock_model_id = key
    attrs = otlp_json.Attributes()
    attrs.add("langfuse.observation.type", "embedding" if kind == "embedding" else "generation")
    attrs.add("langfuse.observation.model.name", bedrock_model_id)
    return attrs.joined()


def _gen_ai(key: tuple[str, str, str]) -> bytes:
    """The GenAI conventions' names too (Langfuse reads them as fallbacks; other OTLP tools as the names)."""
    operation, model_group, bedrock_model_id = key
    attrs = otlp_json.Attributes()
    attrs.add("gen_ai.operation.name", operation)
    attrs.add("gen_ai.provider.name", genai.PROVIDER)
    attrs.add("gen_ai.system", genai.PROVIDER)
    attrs.add("gen_ai.request.model", model_group)
    attrs.add("gen_ai.response.model", bedrock_model_id)
    return attrs.joined()


def _call_facts_attributes(facts: tuple[Any, ...]) -> bytes:
    return b",".join(
        otlp_json.attribute(
            f"langfuse.observation.metadata.{name}",
            value if isinstance(value, (str, int, bool)) else _json(value),
        )
        for name, value in zip(CALL_FACT_NAMES, facts, strict=True)
        if value is not None
    )


_TRACE = otlp_json.Memo()
_MODEL = otlp_json.Memo()
_GEN_AI = otlp_json.Memo()
_CALL_FACTS = otlp_json.Memo()


def _basic(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


class LangfuseOtlpSink(HttpSink):
    """OTLP/HTTP export to Langfuse v4 / Cloud: JSON by default, protobuf on request."""

    name = "langfuse"
    max_batch = 100

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        *,
        options: LangfuseOptions | None = None,
        protobuf: bool = False,
        timeout: float = 10.0,
        name: str = "langfuse",
    ) -> None:
        super().__init__(timeout=timeout)
        self.name = name
        self.url = host.rstrip("/") + "/api/public/otel/v1/traces"
        self.options = options or LangfuseOptions()
        self.protobuf = protobuf and otlp.protobuf_available()
        self.headers = {
            "Authorization": _basic(public_key, secret_key),
            "Content-Type": "application/x-protobuf" if self.protobuf else "application/json",
            "x-langfuse-ingestion-version": "4",
        }
        self.resource: dict[str, str | None] = {
            "service.name": "bedrock-proxy",
            "telemetry.sdk.language": "python",
        }
        if self.options.environment:
            self.resource["deployment.environment"] = _environment(self.options.environment)
        self.frame = otlp_json.ExportFrame(resource=self.resource, scope=SCOPE)

    def encode(self, records: list[CallRecord]) -> bytes:
        return self._body([s for record in records for s in otlp_span_bytes(record, self.options)])

    def _body(self, spans: list[bytes]) -> bytes:
        body = self.frame.body(spans)
        return otlp.protobuf_body(orjson.loads(body)) if self.protobuf else body

    async def send_batch(self, records: list[CallRecord]) -> None:
        if self.protobuf or not self._gzip:
            per_record = await map_yielding(lambda record: otlp_span_bytes(record, self.options), records)
            await self.post(self.url, self._body([s for spans in per_record for s in spans]), self.headers)
            return
        # OTLP JSON, gzipped record by record as it is encoded: the same body as encode(records)
        body = GzipWriter()
        body.write(self.frame.head)
        for i, record in enumerate(records):
            spans = b",".join(otlp_span_bytes(record, self.options))
            body.write(b"," + spans if i else spans)
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let requests run (encoding runs on the loop that serves them)
        body.write(self.frame.tail)
        await self.post(self.url, body.finish(), self.headers, gzipped=True)


# ---------------------------------------------------------------------------------------------- legacy
_EVENT_NS = uuid.UUID("6f1c1d2e-9b0a-4c57-8a53-6c1e0e6b7a11")
MAX_INGESTION_BYTES = 3_000_000  # the server refuses batches above about 3.5 MB


def legacy_events(record: CallRecord, options: LangfuseOptions) -> list[dict[str, Any]]:
    """trace-create, generation-create and span-create events; envelope ids are stable across retries."""
    f = resolve(record, options)
    now = iso(record.end_time)
    failed = not record.ok
    error = (record.error_message or record.error_type or f"HTTP {record.status}") if failed else None

    def envelope(kind: str, index: int, body: dict[str, Any]) -> dict[str, Any]:
        event_id = str(uuid.uuid5(_EVENT_NS, f"{record.request_id}:{kind}:{index}"))
        return {
            "id": event_id,
            "type": kind,
            "timestamp": now,
            "body": {k: v for k, v in body.items() if v is not None},
        }

    events = []
    trace_id = f.trace_key
    if not f.existing:
        events.append(
            envelope(
                "trace-create",
                0,
                {
                    "id": trace_id,
                    "timestamp": iso(record.start_time),
                    "name": f.trace_name,
                    "userId": f.user_id,
                    "sessionId": f.session_id,
                    "input": f.input,
                    "output": f.output,
                    "metadata": f.trace_metadata or None,
                    "tags": f.tags or None,
                    "environment": f.environment,
                    "release": f.release,
                    "version": f.trace_version,
                },
            )
        )
    gen_start, gen_end = generation_window(record)
    events.append(
        envelope(
            "generation-create",
            0,
            {
                "id": f.generation_key,
                "traceId": trace_id,
                "parentObservationId": f.parent_observation_key if f.existing else None,
                "name": f.generation_name,
                "startTime": iso(gen_start),
                "endTime": iso(gen_end),
                "completionStartTime": iso(record.first_token_time),
                "model": record.bedrock_model_id,
                "modelParameters": {
                    k: v for k, v in (record.params or {}).items() if isinstance(v, (str, int, float, bool))
                }
                or None,
                "input": f.input,
                "output": f.output,
                "usageDetails": usage_details(record),
                "costDetails": cost_details(record),
                "level": "ERROR" if failed else "DEFAULT",
                "statusMessage": error,
                "metadata": observation_metadata(record),
                "version": f.version,
                "environment": f.environment,
            },
        )
    )
    if show_attempts(record):
        for i, attempt in enumerate(record.attempts):
            failed_attempt = attempt.status >= 400 or attempt.error_type is not None
            events.append(
                envelope(
                    "span-create",
                    i,
                    {
                        "id": f"{record.request_id}:attempt:{i}",
                        "traceId": trace_id,
                        "parentObservationId": f.generation_key,
                        "name": attempt_label(i, attempt),
                        "startTime": iso(attempt.start_time),
                        "endTime": iso(attempt.end_time),
                        "level": "WARNING" if failed_attempt else "DEFAULT",
                        "statusMessage": (attempt.error_message or attempt.error_type)
                        if failed_attempt
                        else None,
                        "metadata": {
                            "deployment_id": attempt.deployment_id,
                            "model_group": attempt.model_group,
                            "bedrock_model_id": attempt.bedrock_model_id,
                            "region": attempt.region,
                            "status": attempt.status,
                            "is_fallback": attempt.is_fallback,
                        },
                        "environment": f.environment,
                    },
                )
            )
    return events


class LangfuseLegacySink(HttpSink):
    """Batched events to /api/public/ingestion for self-hosted Langfuse v2/v3 (207 multi-status)."""

    name = "langfuse"
    max_batch = 100

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        *,
        options: LangfuseOptions | None = None,
        timeout: float = 10.0,
        name: str = "langfuse",
    ) -> None:
        super().__init__(timeout=timeout)
        self.name = name
        self.url = host.rstrip("/") + "/api/public/ingestion"
        self.options = options or LangfuseOptions()
        self.headers = {"Authorization": _basic(public_key, secret_key), "Content-Type": "application/json"}
        self.event_errors = 0  # events the server refused one by one inside a 207 answer

    def extra_stats(self) -> dict[str, int]:
        return {"event_errors": self.event_errors}

    def bodies(self, records: list[CallRecord]) -> list[bytes]:
        """One or more request bodies, each under the server's batch size limit."""
        out: list[bytes] = []
        chunk: list[bytes] = []
        size = 0
        for record in records:
            for event in legacy_events(record, self.options):
                encoded = orjson.dumps(event, default=str)
                if chunk and size + len(encoded) > MAX_INGESTION_BYTES:
                    out.append(b'{"batch":[' + b",".join(chunk) + b"]}")
                    chunk, size = [], 0
                chunk.append(encoded)
                size += len(encoded) + 1
        if chunk:
            out.append(b'{"batch":[' + b",".join(chunk) + b"]}")
        return out

    async def send_batch(self, records: list[CallRecord]) -> None:
        for body in self.bodies(records):
            _, payload = await self.post(self.url, body, self.headers)
            try:
                answer = orjson.loads(payload) if payload else {}
            except orjson.JSONDecodeError:
                continue
            errors = answer.get("errors") or [] if isinstance(answer, dict) else []
            if not errors:
                continue
            successes = answer.get("successes") or []
            retryable = [e for e in errors if isinstance(e, dict) and int(e.get("status", 400)) >= 500]
            if retryable and not successes and len(retryable) == len(errors):
                raise RetryableSinkError(f"{self.name}: every event failed with a server error: {errors[0]}")
            self.event_errors += len(errors)
            log.warning("%s: %d events refused, first: %s", self.name, len(errors), errors[0])
