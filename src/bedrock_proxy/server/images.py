"""Fetch http(s) image URLs for Bedrock, which only takes image bytes.

A gateway that fetches URLs for its callers must not become their way into the private network: every
address a host name resolves to is checked, the connection goes to exactly the checked addresses, and
redirects are followed by hand through the same check. Size and time are bounded, and so is the fan-out:
one request downloads at most `per_request` URLs at once, and the whole process at most `per_process`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

from bedrock_proxy.chat.request import ChatRequest, image_count, sniff_image
from bedrock_proxy.errors import ErrorCode, GatewayError

MAX_IMAGE_BYTES = 3_750_000  # Bedrock's per-image limit
FETCH_TIMEOUT = 10.0
MAX_REDIRECTS = 3
FETCHES_PER_REQUEST = 4  # general_settings.max_image_fetches_per_request
FETCHES_PER_PROCESS = 32  # general_settings.max_image_fetches_per_process


def _image_error(url: str, reason: str) -> GatewayError:
    return GatewayError(
        400,
        f"Could not use image URL {url[:200]}: {reason}",
        param="messages",
        code=ErrorCode.INVALID_IMAGE_URL,
    )


def check_image_count(request: ChatRequest, limit: int) -> None:
    """Before any image is fetched (every client API calls it): more images than the limit cost nothing to
    refuse."""
    count = image_count(request)
    if count > limit:
        raise GatewayError(
            400,
            f"The request holds {count} images; the gateway takes at most {limit} per request"
            " (general_settings.max_images_per_request). Send fewer images.",
            param="messages",
            code=ErrorCode.TOO_MANY_IMAGES,
        )


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


class _PinnedResolver(AbstractResolver):
    """Answers only with the addresses that were already checked."""

    def __init__(self, host: str, infos: list[ResolveResult]) -> None:
        self._host = host
        self._infos = infos

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        if host != self._host:
            raise OSError(f"unexpected host {host}")
        return [{**info, "port": port} for info in self._infos]

    async def close(self) -> None:
        return None


class ImageFetcher:
    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_bytes: int = MAX_IMAGE_BYTES,
        timeout: float = FETCH_TIMEOUT,
        per_request: int = FETCHES_PER_REQUEST,
        per_process: int = FETCHES_PER_PROCESS,
    ) -> None:
        self.allow_private = allow_private  # tests only: the gateway itself never fetches private addresses
        self.max_bytes = max_bytes
        self.timeout = timeout  # for each fetch, redirects included, once it has its turn
        self.per_request = per_request
        self.per_process = per_process
        self._process_slots: asyncio.Semaphore | None = None  # made in the serving event loop
        self.in_flight = 0  # fetches under way now, in this process
        self.most_in_flight = 0  # the most there ever were at once (the tests read it)

    async def fetch_all(self, urls: list[str]) -> dict[str, tuple[str, bytes]]:
        unique = list(dict.fromkeys(urls))
        request_slots = asyncio.Semaphore(self.per_request)
        if self._process_slots is None:
            self._process_slots = asyncio.Semaphore(self.per_process)
        process_slots = self._process_slots

        async def one(url: str) -> tuple[str, bytes]:
            async with request_slots, process_slots:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    return await self.fetch(url)
                finally:
                    self.in_flight -= 1

        results = await asyncio.gather(*(one(url) for url in unique))
        return dict(zip(unique, results, strict=True))

    async def fetch(self, url: str) -> tuple[str, bytes]:
        try:
            async with asyncio.timeout(self.timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    status, location, content_type, data = await self._get(url)
                    if status in (301, 302, 303, 307, 308) and location:
                        url = urljoin(url, location)
                        continue
                    if status != 200:
                        raise _image_error(url, f"the server answered HTTP {status}.")
                    # the bytes decide, not the Content-Type: Bedrock rejects a mislabelled image
                    image_format = sniff_image(data)
                    if image_format is None:
                        served = f" (served as {content_type})" if content_type else ""
                        raise _image_error(url, f"it is not a png, jpeg, gif or webp image{served}.")
                    return image_format, data
                raise _image_error(url, f"more than {MAX_REDIRECTS} redirects.")
        except TimeoutError:
            raise _image_error(url, f"no answer within {self.timeout:g} s.") from None

    async def _resolve(self, url: str) -> tuple[str, int, list[ResolveResult]]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _image_error(url, "only http and https URLs (or data: URLs) are accepted.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise _image_error(url, f"the host name {parts.hostname} does not resolve.") from None
        resolved: list[ResolveResult] = []
        for family, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0])  # an IP address: getaddrinfo gives AF_INET / AF_INET6 for a host name
            if not self.allow_private and not is_public_address(address):
                raise _image_error(
                    url,
                    "it points to a private, loopback or link-local address, which the gateway never fetches."
                    " Send the image as a data: URL instead.",
                )
            resolved.append(
                {
                    "hostname": parts.hostname,
                    "host": address,
                    "port": port,
                    "family": family,
                    "proto": proto,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        return parts.hostname, port, resolved

    async def _get(self, url: str) -> tuple[int, str | None, str, bytes]:
        hostname, _, resolved = await self._resolve(url)
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(hostname, resolved), force_close=True)
        try:
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                session.get(url, allow_redirects=False) as response,
            ):
                if response.status in (301, 302, 303, 307, 308):
                    return response.status, response.headers.get("Location"), "", b""
                declared = response.content_length
                if declared is not None and declared > self.max_bytes:
                    raise _image_error(url, f"it is larger than {self.max_bytes} bytes.")
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data.extend(chunk)
                    if len(data) > self.max_bytes:
                        raise _image_error(url, f"it is larger than {self.max_bytes} bytes.")
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                return response.status, None, content_type, bytes(data)
        except aiohttp.ClientError as exc:
            raise _image_error(url, f"the download failed ({type(exc).__name__}).") from None
