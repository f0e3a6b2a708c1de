"""The checks every client API's request parser makes of a field, each a 400 naming the param: one rule and
one wording per fault, whether the body came as OpenAI chat completions, OpenAI Responses or Anthropic
Messages.

What differs between the APIs (their field names, their shapes) stays in their parsers; these take the value
and the param to blame.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from bedrock_proxy.chat.depth import depth_message, nesting_beyond
from bedrock_proxy.chat.request import CacheMark, ReasoningPart, ToolDef, sniff_image
from bedrock_proxy.errors import GatewayError, invalid_request

# Integers travel to Bedrock as JSON: beyond a signed 64-bit range no encoder writes them
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Bedrock's rule for tool names (and OpenAI's): the json_schema name becomes a tool's too
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
CACHE_TTLS = ("5m", "1h")


def type_name(value: object) -> str:
    """A JSON value's type as an error message says it: "got an array"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def wrong_type(param: str, expected: str, value: object) -> GatewayError:
    return invalid_request(f"'{param}' must be {expected}, got {type_name(value)}.", param)


# ----------------------------------------------------------------------------------------------------------
# Scalars of a body (or of an object inside it): None when absent or null


def model_name(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_request("'model' is required: send the model name as a non-empty string.", "model")
    return model


def optional_int(
    body: dict[str, Any],
    key: str,
    low: int | None = None,
    high: int | None = None,
    *,
    param: str | None = None,
) -> int | None:
    """An integer (2.0 counts as 2) within [low, high] and within 64 bits."""
    param = param or key
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(param, "an integer", value)
    _check_range(param, value, low, high)
    if not INT64_MIN <= value <= INT64_MAX:
        raise invalid_request(
            f"'{param}' is out of range: send an integer below 2**63, got {value:.3g}.", param
        )
    return value


def optional_number(
    body: dict[str, Any], key: str, low: float | None = None, high: float | None = None
) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(key, "a number", value)
    _check_range(key, value, low, high)
    return value


def _check_range(param: str, value: float, low: float | None, high: float | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low:g} and {high:g}" if low is not None and high is not None else f"at least {low}"
        )
        raise invalid_request(f"'{param}' must be {bounds}, got {value}.", param)


def optional_bool(body: dict[str, Any], key: str, param: str | None = None) -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong_type(param or key, "true or false", value)


def optional_str(body: dict[str, Any], key: str, param: str | None = None) -> str | None:
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(param or key, "a string", value)


def required_str(part: dict[str, Any], key: str, where: str) -> str:
    """`part[key]`, which must be a string: a text part's text. `where` names the part."""
    value = part.get(key)
    if not isinstance(value, str):
        raise wrong_type(f"{where}.{key}", "a string", value)
    return value


# ----------------------------------------------------------------------------------------------------------
# Tools


def tool_name(value: object, param: str) -> str:
    if not isinstance(value, str) or not TOOL_NAME.fullmatch(value):
        raise invalid_request(
            f"'{param}' must match [a-zA-Z0-9_-]{{1,64}} (letters, digits, _ and -), got {value!r}.", param
        )
    return value


def new_tool_name(value: object, param: str, declared: list[ToolDef]) -> str:
    """A tool definition's name: valid, and not one an earlier definition took."""
    name = tool_name(value, param)
    if any(tool.name == name for tool in declared):
        raise invalid_request(f"'{param}': tool {name!r} is declared twice.", param)
    return name


def tool_schema(value: object, param: str, *, required: bool = False) -> dict[str, Any]:
    """A tool's JSON Schema for its input; absent (where allowed) means no parameters."""
    if value is None and not required:
        return {"type": "object", "properties": {}}
    if not isinstance(value, dict):
        raise wrong_type(param, "a JSON Schema object", value)
    return value


def tool_arguments(value: object, param: str, max_depth: int) -> dict[str, Any]:
    """A tool call's arguments: a JSON object, or a string holding one ("" or null: none)."""
    if value is None or value == "":
        arguments: object = {}
    elif isinstance(value, str):
        try:
            arguments = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise invalid_request(
                f"'{param}' is not valid JSON; send the arguments as a JSON object string.", param
            ) from None
    else:
        arguments = value
    if not isinstance(arguments, dict):
        raise invalid_request(
            f"'{param}' must encode a JSON object (Bedrock tool input), got {type_name(arguments)}.", param
        )
    if nesting_beyond(arguments, max_depth) is not None:  # decoded here, so not checked with the body
        raise invalid_request(depth_message(param, max_depth), param)
    return arguments


# ----------------------------------------------------------------------------------------------------------
# Content: images, prompt-cache marks, reasoning blocks sent back


def base64_bytes(data: object, param: str) -> bytes:
    if not isinstance(data, str):
        raise wrong_type(param, "a base64 string", data)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request(f"'{param}' does not hold valid base64: re-encode the data.", param) from None


def image_format(raw: bytes, param: str) -> str:
    """The image's real format, sniffed from its bytes (Bedrock refuses a declared type that is wrong)."""
    found = sniff_image(raw)
    if found is None:
        raise invalid_request(f"'{param}' is not a PNG, JPEG, GIF or WebP image: check the file.", param)
    return found


def cache_mark(control: object, param: str) -> CacheMark:
    """A `cache_control` ({"type": "ephemeral", "ttl": "5m" | "1h"}) as a cache point and its TTL; `param`
    names the cache_control."""
    if not isinstance(control, dict):
        return False
    ttl = control.get("ttl")
    if ttl is None:
        return True
    if ttl not in CACHE_TTLS:
        raise invalid_request(f"'{param}.ttl' must be 5m or 1h, got {ttl!r}.", f"{param}.ttl")
    return str(ttl)


def reasoning_block(block: dict[str, Any], param: str, cache: CacheMark = False) -> ReasoningPart | None:
    """A thinking or redacted_thinking block (Anthropic's shape, which LiteLLM's thinking_blocks copy), to
    send back to Bedrock unchanged; None for a block of another type."""
    kind = block.get("type")
    if kind == "thinking":
        thinking = required_str(block, "thinking", param)
        signature = optional_str(block, "signature", f"{param}.signature")
        return ReasoningPart(thinking, signature=signature or None, cache=cache)
    if kind == "redacted_thinking":
        data = block.get("data")
        if not isinstance(data, str) or not data:
            raise invalid_request(f"'{param}.data' must be the block's data string.", f"{param}.data")
        return ReasoningPart("", redacted=data, cache=cache)
    return None
