"""An aiohttp application served from a background thread, stoppable and restartable on the same port.

The base of the LLM-ops fakes (Weave, Helicone, Lunary, PromptLayer): a subclass adds its routes in
`routes(app)` and appends what it accepted to `self.received` under `self.lock`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web


class ThreadedFake:
    name = "fake"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {"requests": 0, "unauthorized": 0, "invalid": 0}
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- state
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._received)

    def accept(self, item: dict[str, Any]) -> None:
        with self.lock:
            self._received.append(item)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def refuse(self, what: str, status: int, message: str) -> web.Response:
        self.count(what)
        return web.json_response({"error": message, "detail": message}, status=status)

    def reset(self) -> None:
        with self.lock:
            self._received.clear()
            for key in self.counts:
                self.counts[key] = 0

    # ---------------------------------------------------------------- HTTP
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        self.routes(app)
        return app

    async def _serve(self, port: int) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def start(self, port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve(port))
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"fake {self.name} did not start")
        return self.url

    def stop(self) -> None:
        """Stop listening: connections are refused until start(port=self.port)."""
        if self._loop is None:
            return
        loop = self._loop
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None
        self._runner = None
