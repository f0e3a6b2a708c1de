"""GET /openapi.json: the gateway's routes as an OpenAPI 3.1 document, written by hand as data.

It describes what the gateway really takes and answers: the OpenAI request bodies it parses (with the limits
docs/security.md lists) and the one error shape every failure has. tests/server/test_openapi.py checks it
against the OpenAPI 3.1 meta-schema and against the route table; tests/fuzz/ fuzzes a real gateway from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy import __version__
from bedrock_proxy.server.http import Receive, Scope, Send, send_json

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway
    from bedrock_proxy.server.context import RequestContext

INT64_MAX = 2**63 - 1

ERROR = {
    "type": "object",
    "description": "Every error, whatever its status: OpenAI's shape. `param` names the field to change.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}
IMAGE_PART = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"const": "image_url"},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "description": "a data: URL (base64) or an http(s) URL"},
                "detail": {"enum": ["auto", "low", "high"]},
            },
        },
    },
}
TOOL_CALL = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "arguments"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                "arguments": {"type": "string", "description": "a JSON object, as a string"},
            },
        },
    },
}
MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"anyOf": [TEXT_PART, IMAGE_PART]}},
                {"type": "null"},
            ]
        },
        "name": {"type": "string"},
        "tool_calls": {"type": "array", "items": TOOL_CALL},
        "tool_call_id": {"type": "string"},
    },
}
TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                "description": {"type": "string"},
                "parameters": {
                    "type": "object",
                    "description": "a JSON Schema, nested at most max_json_depth",
                },
            },
        },
    },
}


def _int(minimum: int, maximum: int = INT64_MAX) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _number(minimum: float, maximum: float) -> dict[str, Any]:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


CHAT_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "description": "OpenAI's chat completions body. Unknown keys are ignored, as OpenAI's SDKs send extras.",
    "properties": {
        "model": {"type": "string", "minLength": 1, "examples": ["claude-3-haiku"]},
        "messages": {"type": "array", "minItems": 1, "items": MESSAGE},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "n": _int(1, 8),
        "max_tokens": _int(1),
        "max_completion_tokens": _int(1),
        "temperature": _number(0, 2),
        "top_p": _number(0, 1),
        "top_k": _int(0),
        "stop": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]
        },
        "presence_penalty": _number(-2, 2),
        "frequency_penalty": _number(-2, 2),
        "logit_bias": {"type": "object"},
        "logprobs": {"type": "boolean"},
        "top_logprobs": _int(0, 20),
        "seed": {"type": "integer", "minimum": -(2**63), "maximum": INT64_MAX},
        "user": {"type": "string"},
        "metadata": {"type": "object"},
        "tools": {"type": "array", "items": TOOL},
        "tool_choice": {
            "anyOf": [
                {"enum": ["auto", "none", "required"]},
                {
                    "type": "object",
                    "required": ["type", "function"],
                    "properties": {
                        "type": {"const": "function"},
                        "function": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}},
                        },
                    },
                },
            ]
        },
        "parallel_tool_calls": {"type": "boolean"},
        "response_format": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["text", "json_object", "json_schema"]},
                "json_schema": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "schema": {"type": "object"}},
                },
            },
        },
    },
}

EMBEDDING_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string", "minLength": 1, "examples": ["titan-embed-text-v2"]},
        "input": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            ]
        },
        "dimensions": _int(1),
        "encoding_format": {"enum": ["float", "base64"]},
        "user": {"type": "string"},
    },
}

ANTHROPIC_ERROR = {
    "type": "object",
    "description": "Every error on the Anthropic Messages routes: Anthropic's shape.",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}

ANTHROPIC_BLOCK = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": ["text", "image", "tool_use", "tool_result", "thinking", "document"]},
        "text": {"type": "string"},
    },
}
MESSAGES_REQUEST = {
    "type": "object",
    "required": ["model", "messages", "max_tokens"],
    "description": "Anthropic's Messages body (count_tokens takes it without max_tokens).",
    "properties": {
        "model": {"type": "string", "minLength": 1, "examples": ["claude-3-haiku"]},
        "max_tokens": _int(1),
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": ANTHROPIC_BLOCK}]},
                },
            },
        },
        "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": ANTHROPIC_BLOCK}]},
        "stream": {"type": "boolean"},
        "temperature": _number(0, 1),
        "top_p": _number(0, 1),
        "top_k": _int(0),
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"type": "object"},
        "metadata": {"type": "object"},
    },
}

RESPONSES_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "description": "OpenAI's Responses body.",
    "properties": {
        "model": {"type": "string", "minLength": 1, "examples": ["claude-3-haiku"]},
        "input": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
        "instructions": {"type": "string"},
        "previous_response_id": {"type": "string"},
        "stream": {"type": "boolean"},
        "store": {"type": "boolean"},
        "max_output_tokens": _int(1),
        "temperature": _number(0, 2),
        "top_p": _number(0, 1),
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "metadata": {"type": "object"},
        "user": {"type": "string"},
    },
}

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
PATHS: dict[str, dict[str, Any]] = {
    "/": _root(),
    "/v1/chat/completions": {"post": _streaming(CHAT, "Chat")},
    "/chat/completions": {"post": _streaming(CHAT, "Chat")},
    "/v1/embeddings": {"post": _operation("Embeddings", body="Embeddings")},
    "/embeddings": {"post": _operation("Embeddings", body="Embeddings")},
    "/v1/responses": {"post": _streaming("OpenAI Responses", "Responses")},
    "/responses": {"post": _streaming("OpenAI Responses", "Responses")},
    "/v1/responses/{response_id}": {
        "get": _stored_response("A stored response"),
        "delete": _stored_response("Delete a stored response"),
    },
    "/responses/{response_id}": {
        "get": _stored_response("A stored response"),
        "delete": _stored_response("Delete a stored response"),
    },
    "/v1/messages": {"post": _streaming("Anthropic Messages", "Messages", "AnthropicError")},
    "/v1/messages/count_tokens": {
        "post": _operation("Count a Messages body's tokens", body="Messages", error="AnthropicError")
    },
    "/v1/models": {"get": _operation("The models this key may call", secured=False)},
    "/models": {"get": _operation("The models this key may call", secured=False)},
    "/v1/model/info": {"get": _operation("The configured deployments", secured=False)},
    "/model/info": {"get": _operation("The configured deployments", secured=False)},
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
