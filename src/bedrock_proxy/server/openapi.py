"""GET /openapi.json: the gateway's routes as an OpenAPI 3.1 document, written by hand as data.

It describes what the gateway really takes and answers: the OpenAI request bodies it parses (with the limits
docs/security.md lists) and the one error shape every failure has. tests/server/test_openapi.py checks it
against the OpenAPI 3.1 meta-schema and against the route table; tests/fuzz/ fuzzes a real gateway from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy import __version__
from bedrock_proxy.chat.fields import INT64_MAX, INT64_MIN, TOOL_NAME
from bedrock_proxy.server.http import Receive, Scope, Send, send_json

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext


def _object(properties: dict[str, Any], *required: str, **extra: Any) -> dict[str, Any]:
    """A JSON object schema: its properties, the ones it requires, then any other keyword."""
    schema: dict[str, Any] = {"type": "object"}
    if required:
        schema["required"] = list(required)
    return {**schema, **extra, "properties": properties}


def _int(minimum: int, maximum: int = INT64_MAX) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _number(minimum: float, maximum: float) -> dict[str, Any]:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


def _array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", **extra, "items": items}


def _model(example: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "examples": [example]}


def _string_or(other: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "string"}, other]}


STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
ANY_OBJECT = {"type": "object"}
TOOL_NAME_STRING = {"type": "string", "pattern": f"^{TOOL_NAME.pattern}$"}

ERROR = _object(
    {
        "error": _object(
            {
                "message": STRING,
                "type": STRING,
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
            "message",
            "type",
            "param",
            "code",
            additionalProperties=False,
        )
    },
    "error",
    description="Every error, whatever its status: OpenAI's shape. `param` names the field to change.",
    additionalProperties=False,
)

TEXT_PART = _object({"type": {"const": "text"}, "text": STRING}, "type", "text")
IMAGE_PART = _object(
    {
        "type": {"const": "image_url"},
        "image_url": _object(
            {
                "url": {"type": "string", "description": "a data: URL (base64) or an http(s) URL"},
                "detail": {"enum": ["auto", "low", "high"]},
            },
            "url",
        ),
    },
    "type",
    "image_url",
)
TOOL_CALL = _object(
    {
        "id": {"type": "string", "minLength": 1},
        "type": {"const": "function"},
        "function": _object(
            {
                "name": TOOL_NAME_STRING,
                "arguments": {"type": "string", "description": "a JSON object, as a string"},
            },
            "name",
            "arguments",
        ),
    },
    "id",
    "type",
    "function",
)
MESSAGE = _object(
    {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
        "content": {"anyOf": [STRING, _array({"anyOf": [TEXT_PART, IMAGE_PART]}), {"type": "null"}]},
        "name": STRING,
        "tool_calls": _array(TOOL_CALL),
        "tool_call_id": STRING,
    },
    "role",
)
TOOL = _object(
    {
        "type": {"const": "function"},
        "function": _object(
            {
                "name": TOOL_NAME_STRING,
                "description": STRING,
                "parameters": {
                    "type": "object",
                    "description": "a JSON Schema, nested at most max_json_depth",
                },
            },
            "name",
        ),
    },
    "type",
    "function",
)


CHAT_REQUEST = _object(
    {
        "model": _model("claude-3-haiku"),
        "messages": _array(MESSAGE, minItems=1),
        "stream": BOOLEAN,
        "stream_options": _object({"include_usage": BOOLEAN}),
        "n": _int(1, 8),
        "max_tokens": _int(1),
        "max_completion_tokens": _int(1),
        "temperature": _number(0, 2),
        "top_p": _number(0, 1),
        "top_k": _int(0),
        "stop": _string_or(_array(STRING, maxItems=4)),
        "presence_penalty": _number(-2, 2),
        "frequency_penalty": _number(-2, 2),
        "logit_bias": ANY_OBJECT,
        "logprobs": BOOLEAN,
        "top_logprobs": _int(0, 20),
        "seed": _int(INT64_MIN),
        "user": STRING,
        "metadata": ANY_OBJECT,
        "tools": _array(TOOL),
        "tool_choice": {
            "anyOf": [
                {"enum": ["auto", "none", "required"]},
                _object(
                    {"type": {"const": "function"}, "function": _object({"name": STRING}, "name")},
                    "type",
                    "function",
                ),
            ]
        },
        "parallel_tool_calls": BOOLEAN,
        "response_format": _object(
            {
                "type": {"enum": ["text", "json_object", "json_schema"]},
                "json_schema": _object({"name": STRING, "schema": ANY_OBJECT}),
            },
            "type",
        ),
    },
    "model",
    "messages",
    description="OpenAI's chat completions body. Unknown keys are ignored, as OpenAI's SDKs send extras.",
)

EMBEDDING_REQUEST = _object(
    {
        "model": _model("titan-embed-text-v2"),
        "input": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                _array({"type": "string", "minLength": 1}, minItems=1),
            ]
        },
        "dimensions": _int(1),
        "encoding_format": {"enum": ["float", "base64"]},
        "user": STRING,
    },
    "model",
    "input",
)

ANTHROPIC_ERROR = _object(
    {
        "type": {"const": "error"},
        "error": _object({"type": STRING, "message": STRING}, "type", "message"),
    },
    "type",
    "error",
    description="Every error on the Anthropic Messages routes: Anthropic's shape.",
)

ANTHROPIC_BLOCK = _object(
    {"type": {"enum": ["text", "image", "tool_use", "tool_result", "thinking", "document"]}, "text": STRING},
    "type",
)
MESSAGES_REQUEST = _object(
    {
        "model": _model("claude-3-haiku"),
        "max_tokens": _int(1),
        "messages": _array(
            _object(
                {"role": {"enum": ["user", "assistant"]}, "content": _string_or(_array(ANTHROPIC_BLOCK))},
                "role",
                "content",
            ),
            minItems=1,
        ),
        "system": _string_or(_array(ANTHROPIC_BLOCK)),
        "stream": BOOLEAN,
        "temperature": _number(0, 1),
        "top_p": _number(0, 1),
        "top_k": _int(0),
        "stop_sequences": _array(STRING),
        "tools": _array(ANY_OBJECT),
        "tool_choice": ANY_OBJECT,
        "metadata": ANY_OBJECT,
    },
    "model",
    "messages",
    "max_tokens",
    description="Anthropic's Messages body (count_tokens takes it without max_tokens).",
)

RESPONSES_REQUEST = _object(
    {
        "model": _model("claude-3-haiku"),
        "input": _string_or(_array(ANY_OBJECT)),
        "instructions": STRING,
        "previous_response_id": STRING,
        "stream": BOOLEAN,
        "store": BOOLEAN,
        "max_output_tokens": _int(1),
        "temperature": _number(0, 2),
        "top_p": _number(0, 1),
        "tools": _array(ANY_OBJECT),
        "tool_choice": _string_or(ANY_OBJECT),
        "metadata": ANY_OBJECT,
        "user": STRING,
    },
    "model",
    "input",
    description="OpenAI's Responses body.",
)

_ANY_JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}


def _operation(
    summary: str, *, body: str | None = None, secured: bool = True, error: str = "Error"
) -> dict[str, Any]:
    """One operation: its body schema (a component), 200, and every error in `error`'s shape."""
    errors = {
        "description": "An error: Anthropic's shape on the Messages routes, OpenAI's everywhere else",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{error}"}}},
    }
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": {"description": "OK", **_ANY_JSON}, "default": errors},
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    operation["security"] = [{"bearer": []}, {"apiKey": []}] if secured else [{}]
    return operation


def _streaming(summary: str, body: str, error: str = "Error") -> dict[str, Any]:
    operation = _operation(summary, body=body, error=error)
    operation["responses"]["200"]["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    return operation


def _metrics() -> dict[str, Any]:
    operation = _operation("Prometheus metrics", secured=False)
    operation["responses"]["200"] = {
        "description": "Prometheus text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return operation


def _stored_response(summary: str) -> dict[str, Any]:
    operation = _operation(summary)
    operation["parameters"] = [
        {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    ]
    return operation


def _regenerate_named() -> dict[str, Any]:
    """LiteLLM's path form of /key/regenerate: the key (or its token) in the path, the body optional."""
    operation = _operation("Replace a key named in the path, keeping its settings", body="Management")
    operation["parameters"] = [
        {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    ]
    operation["requestBody"]["required"] = False
    return operation


def _root() -> dict[str, Any]:
    return {
        "get": _operation("The gateway answers (Claude Code's first request)", secured=False),
        "head": {
            "summary": "The gateway answers",
            "security": [{}],
            "responses": {"200": {"description": "OK"}},
        },
    }


CHAT = "Chat completion (server-sent events when stream is true)"
STORED_RESPONSE = {
    "get": _stored_response("A stored response"),
    "delete": _stored_response("Delete a stored response"),
}
# OpenAI's routes, served both under /v1 and without it (as LiteLLM serves them)
OPENAI_PATHS: dict[str, dict[str, Any]] = {
    "/chat/completions": {"post": _streaming(CHAT, "Chat")},
    "/embeddings": {"post": _operation("Embeddings", body="Embeddings")},
    "/responses": {"post": _streaming("OpenAI Responses", "Responses")},
    "/responses/{response_id}": STORED_RESPONSE,
    "/models": {"get": _operation("The models this key may call", secured=False)},
    "/model/info": {"get": _operation("The configured deployments", secured=False)},
}
PATHS: dict[str, dict[str, Any]] = {
    "/": _root(),
    **{f"/v1{path}": item for path, item in OPENAI_PATHS.items()},
    **OPENAI_PATHS,
    "/v1/messages": {"post": _streaming("Anthropic Messages", "Messages", "AnthropicError")},
    "/v1/messages/count_tokens": {
        "post": _operation("Count a Messages body's tokens", body="Messages", error="AnthropicError")
    },
    "/health": {"get": _operation("Health of the gateway and its deployments", secured=False)},
    "/health/liveliness": {"get": _operation("The process answers", secured=False)},
    "/health/liveness": {"get": _operation("The process answers", secured=False)},
    "/health/readiness": {"get": _operation("Ready to serve", secured=False)},
    "/health/models": {"get": _operation("A real call to each deployment")},
    "/metrics": {"get": _metrics()},
    "/key/info": {"get": _operation("A key's identity, limits and spend")},
    "/spend/logs": {"get": _operation("Recent spend records")},
    "/global/spend/report": {"get": _operation("Spend by team, customer, key, model or day")},
    "/key/generate": {"post": _operation("Generate a key (shown once)", body="Management")},
    "/key/update": {"post": _operation("Change a key", body="Management")},
    "/key/delete": {"post": _operation("Delete keys", body="Management")},
    "/key/regenerate": {"post": _operation("Replace a key, keeping its settings", body="Management")},
    "/key/{key}/regenerate": {"post": _regenerate_named()},
    "/key/block": {"post": _operation("Block a key", body="Management")},
    "/key/unblock": {"post": _operation("Unblock a key", body="Management")},
    "/key/list": {"get": _operation("The generated keys")},
    "/team/new": {"post": _operation("Create a team", body="Management")},
    "/team/update": {"post": _operation("Change a team", body="Management")},
    "/team/delete": {"post": _operation("Delete teams and their keys", body="Management")},
    "/team/block": {"post": _operation("Block a team", body="Management")},
    "/team/unblock": {"post": _operation("Unblock a team", body="Management")},
    "/team/info": {"get": _operation("A team, its spend and its keys")},
    "/team/list": {"get": _operation("The teams")},
    "/user/new": {"post": _operation("Create a user (and a key of theirs)", body="Management")},
    "/user/update": {"post": _operation("Change a user", body="Management")},
    "/user/delete": {"post": _operation("Delete users", body="Management")},
    "/user/info": {"get": _operation("A user, their spend and keys")},
    "/user/list": {"get": _operation("The users")},
    "/openapi.json": {"get": _operation("This document", secured=False)},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Bedrock Proxy",
        "version": __version__,
        "description": "OpenAI- and Anthropic-compatible gateway in front of AWS Bedrock. Limits on what a"
        " request may hold (body size, JSON depth, images, headers) are in docs/security.md.",
    },
    "paths": PATHS,
    "components": {
        "schemas": {
            "Error": ERROR,
            "AnthropicError": ANTHROPIC_ERROR,
            "Chat": CHAT_REQUEST,
            "Embeddings": EMBEDDING_REQUEST,
            "Messages": MESSAGES_REQUEST,
            "Responses": RESPONSES_REQUEST,
            # LiteLLM's management bodies: checked field by field by the gateway (docs/keys.md)
            "Management": {"type": "object"},
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        },
    },
}


async def openapi_document(
    gateway: Gateway, scope: Scope, receive: Receive, send: Send, ctx: RequestContext
) -> None:
    await send_json(send, 200, DOCUMENT)
