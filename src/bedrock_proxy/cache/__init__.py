"""Response caching: a cache lookup before the router, the answer stored after it was sent.

`ResponseCaching` is what the server calls; `LocalCache` (in-process) and `RedisCache`
(`bedrock_proxy.cache.redis_cache`, imported only when configured) are the two `ResponseCache` backends.
"""

from bedrock_proxy.cache.base import ResponseCache
from bedrock_proxy.cache.control import CacheControl, cache_control
from bedrock_proxy.cache.keys import response_key
from bedrock_proxy.cache.local import LocalCache
from bedrock_proxy.cache.replay import completion_from_stream, stream_chunks
from bedrock_proxy.cache.responses import HEADER, Lookup, ResponseCaching, cacheable

__all__ = [
    "HEADER",
    "CacheControl",
    "LocalCache",
    "Lookup",
    "ResponseCache",
    "ResponseCaching",
    "cache_control",
    "cacheable",
    "completion_from_stream",
    "response_key",
    "stream_chunks",
]
