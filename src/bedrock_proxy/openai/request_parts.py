"""What OpenAI's two request bodies, chat completions and Responses, check alike: an image given by URL (a
base64 data: URL or an http(s) one) and the string forms of `tool_choice`.
"""

from __future__ import annotations

from bedrock_proxy.chat.fields import base64_bytes, image_format, wrong_type
from bedrock_proxy.chat.request import CacheMark, ImagePart, Part, RemoteImagePart, ToolChoice, ToolChoiceMode
from bedrock_proxy.errors import invalid_request

# the image types a data: URL may declare (Bedrock reads these four; the real type is sniffed from the bytes)
IMAGE_MIME = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}


def image_part(value: object, param: str, cache: CacheMark = False) -> Part:
    """An `image_url`: the URL itself, or an object with a `url`."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str):
        raise wrong_type(f"{param}.url", "a data: URL or an http(s) URL", url)
    if url.startswith("data:"):
        sniffed, b64 = _data_url_image(url, param)
        return ImagePart(sniffed, b64, param, cache)
    if url.startswith(("https://", "http://")):
        return RemoteImagePart(url, param, cache)
    raise invalid_request(
        f"'{param}' must be a data: URL (data:image/png;base64,...) or an http(s) URL; got {url[:40]!r}.",
        param,
    )


def _data_url_image(url: str, param: str) -> tuple[str, str]:
    """A base64 data: URL's image format and data."""
    header, comma, data = url.partition(",")
    mime = header[5:].split(";", 1)[0].lower()
    if not comma or not header.endswith(";base64"):
        raise invalid_request(
            f"'{param}' must be a base64 data URL such as data:image/png;base64,<data>.", param
        )
    if mime not in IMAGE_MIME:
        raise invalid_request(
            f"'{param}': image type {mime or 'unknown'!r} is not supported; send png, jpeg, gif or webp.",
            param,
        )
    return image_format(base64_bytes(data, param), param), data


def tool_choice_mode(value: str, has_tools: bool) -> ToolChoice:
    """`tool_choice` as a string: auto, none or required (which needs a function tool)."""
    if value not in ("auto", "none", "required"):
        raise invalid_request(
            f"'tool_choice' must be 'auto', 'none', 'required' or a named function, got {value!r}.",
            "tool_choice",
        )
    if value == "required" and not has_tools:
        raise invalid_request(
            "'tool_choice' is 'required' but no function tools were sent: add one to 'tools'.", "tool_choice"
        )
    return ToolChoice(ToolChoiceMode(value))
