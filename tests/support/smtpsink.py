"""A minimal SMTP server on 127.0.0.1 that keeps what it is sent, for the relay's tests.

Just enough of RFC 5321 for ``smtplib``: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET,
NOOP, QUIT. No TLS, no auth: the tests that need those check the client's settings, not a
server's."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

__all__ = ["Received", "SmtpSink"]


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Box:
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)


class _Session(socketserver.StreamRequestHandler):
    box: _Box

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._say("220 sink ready")
        sender, recipients = "", []
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self._say("250 sink")
            elif verb == b"MAIL":
                sender, recipients = line.split(b":", 1)[1].strip().decode(), []
                self._say("250 ok")
            elif verb == b"RCPT":
                recipients.append(line.split(b":", 1)[1].strip().decode())
                self._say("250 ok")
            elif verb == b"DATA":
                self._say("354 go on")
                self._data(sender, recipients)
                self._say("250 kept")
            elif verb == b"QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")

    def _data(self, sender: str, recipients: list[str]) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        with self.box.arrived:
            self.box.received.append(Received(sender, list(recipients), b"".join(lines)))
            self.box.arrived.notify_all()


class SmtpSink:
    def __init__(self) -> None:
        self.box = _Box()
        handler = type("Session", (_Session,), {"box": self.box})
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """The first ``count`` emails, waiting up to ``timeout`` seconds for them."""
        with self.box.arrived:
            self.box.arrived.wait_for(lambda: len(self.box.received) >= count, timeout)
            return list(self.box.received)
