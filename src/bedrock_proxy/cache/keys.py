"""Cache keys: a sha256 of the public model name and every part of the request that changes the answer.

Fields are left out by a deny list rather than picked by an allow list, so a parameter this gateway has
never heard of (a provider extra, a new OpenAI field) still separates answers instead of colliding.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

KEY_VERSION = b"v1"

# Fields that do not change the answer: who asked, how it travels, and the cache controls themselves.
# `stream` is left out so a streamed request can replay an answer stored from a non-streamed one.
NOT_IN_KEY = frozenset(
    {
        "model",  # hashed separately, as the public model name
        "user",
        "metadata",
        "litellm_metadata",
        "stream",
        "stream_options",
        "cache",
        "timeout",
        "request_timeout",
        "num_retries",
        "store",
    }
)
# Numbers a client may write as 1 or 1.0: both mean the same sampling, so both give the same key.
_FLOAT_PARAMS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def response_key(kind: str, model: str, body: dict[str, Any]) -> str:
    """`{kind}:{sha256 hex}` for one request; `kind` is "chat" or "embedding"."""
    relevant = {name: value for name, value in body.items() if name not in NOT_IN_KEY}
    for name in _FLOAT_PARAMS:
        value = relevant.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            relevant[name] = float(value)
    digest = hashlib.sha256()
    digest.update(KEY_VERSION + b"\0" + kind.encode() + b"\0" + model.encode() + b"\0")
    digest.update(orjson.dumps(relevant, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return f"{kind}:{digest.hexdigest()}"
