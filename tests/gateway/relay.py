"""A TCP relay between the gateway and the emulator that notes when each upstream connection closes.

The emulator cannot tell a client that went away from one that is merely slow to read, so the proof that a
client disconnect cancels the upstream call is taken on the wire: the gateway's connection to Bedrock closes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass


@dataclass
class Connection:
    opened_at: float
    closed_at: float | None = None
    bytes_to_upstream: int = 0


class TcpRelay:
    """Forwards 127.0.0.1:<port> to the target port, one asyncio loop in a daemon thread."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: list[Connection] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TcpRelay:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the relay did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(time.monotonic())
        self.connections.append(connection)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, upstream: bool) -> None:
            try:
                while data := await source.read(65536):
                    if upstream:
                        connection.bytes_to_upstream += len(data)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass

        to_upstream = asyncio.ensure_future(pipe(reader, up_writer, True))
        to_client = asyncio.ensure_future(pipe(up_reader, writer, False))
        await to_upstream  # the gateway closed (or reset) its side: that is the moment we note
        connection.closed_at = time.monotonic()
        to_client.cancel()
        for w in (writer, up_writer):
            w.close()
