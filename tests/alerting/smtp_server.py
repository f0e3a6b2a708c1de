"""A loopback SMTP server just big enough for smtplib: EHLO, MAIL, RCPT, DATA, QUIT; keeps each message."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes
from email.message import Message


class FakeSmtp:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 fake-smtp ready\r\n")
                while line := self.rfile.readline():
                    command = line.strip().upper()
                    if command.startswith((b"EHLO", b"HELO")):
                        self.wfile.write(b"250 fake-smtp\r\n")
                    elif command == b"DATA":
                        self.wfile.write(b"354 end with .\r\n")
                        body = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            body += chunk
                        owner.messages.append(message_from_bytes(body))
                        self.wfile.write(b"250 queued\r\n")
                    elif command == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
