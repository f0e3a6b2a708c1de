"""Shared request builders for the translation tests."""

from __future__ import annotations

import base64

import pytest

from bedrock_proxy.errors import GatewayError

CLAUDE = "anthropic.claude-3-5-sonnet-20241022-v2:0"
TITAN = "amazon.titan-text-express-v1"
LLAMA = "meta.llama3-1-70b-instruct-v1:0"
MISTRAL_LARGE = "mistral.mistral-large-2402-v1:0"
MISTRAL_7B = "mistral.mistral-7b-instruct-v0:2"

# The smallest valid files of each format Bedrock accepts (only the magic bytes matter here).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
GIF = b"GIF89a" + b"\x00" * 16
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 8


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def chat(*messages: dict, **extra) -> dict:
    return {"model": "claude", "messages": list(messages) or [user("Hi")], **extra}


def user(content) -> dict:
    return {"role": "user", "content": content}


def assistant(content=None, **extra) -> dict:
    return {"role": "assistant", "content": content, **extra}


def call(call_id: str, name: str, arguments: str = "{}") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool(call_id: str, content) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def function_tool(name: str, parameters: dict | None = None) -> dict:
    fn: dict = {"name": name, "description": f"The {name} tool"}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


def expect_400(fn, *args, param: str | None, **kwargs) -> GatewayError:
    """Call fn, assert it raised a client error naming `param`; return it for more checks."""
    with pytest.raises(GatewayError) as caught:
        fn(*args, **kwargs)
    error = caught.value
    assert error.status == 400
    assert error.type == "invalid_request_error"
    assert error.param == param
    return error
