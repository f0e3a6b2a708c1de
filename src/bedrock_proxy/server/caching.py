"""The response cache around a model call, shared by every route that caches (chat, embeddings): look up
before the router, store after the answer was sent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bedrock_proxy.cache import Lookup
from bedrock_proxy.server.context import RequestContext
from bedrock_proxy.server.http import Scope, header

if TYPE_CHECKING:
    from bedrock_proxy.server.app import Gateway


async def cache_lookup(
    gateway: Gateway, scope: Scope, kind: str, model: str, body: dict[str, Any]
) -> Lookup | None:
    """The response cache's verdict for this request, or None when caching is off."""
    if gateway.cache is None:
        return None
    return await gateway.cache.lookup(kind, model, body, header(scope, b"cache-control"))


async def cache_store(
    gateway: Gateway, ctx: RequestContext, lookup: Lookup | None, answer: dict[str, Any] | None
) -> None:
    """Store an answer once it was sent; not one a fallback model gave in place of the one asked for."""
    if lookup is None or answer is None or gateway.cache is None:
        return
    if ctx.trace is not None and ctx.trace.fallback_used:
        return
    await gateway.cache.store(lookup, answer)
