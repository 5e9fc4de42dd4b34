"""Kept-alive HTTP connections whose every request leaves in one TCP segment.

http.client writes a request's head and its body in two ``send()`` calls. With Nagle's
algorithm on, the body then waits for the peer's delayed ACK of the head (40 ms on Linux);
with TCP_NODELAY alone it leaves at once, but as a second segment, and the server is woken for
each: two wake-ups and two reads per request where one would do. On a small machine each
wake-up of another process is the dearest thing a request costs (docs/benchmarks.md, finding
19), and the fan-out sends one request per message to IoT Core. So the socket is corked
(``TCP_CORK``) while http.client writes and uncorked after: the kernel sends what it holds as
one segment. Where there is no ``TCP_CORK`` (not Linux) the request is sent as before.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["OneWriteConnection", "OneWriteTlsConnection"]

_CORK: int | None = getattr(socket, "TCP_CORK", None)


@contextmanager
def _corked(sock: Any) -> Iterator[None]:
    if _CORK is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
    try:
        yield
    finally:
        sock.setsockopt(socket.IPPROTO_TCP, _CORK, 0)


class OneWriteConnection(http.client.HTTPConnection):
    """TCP_NODELAY, a read timeout applied once connected, and each request corked."""

    read_timeout: float | None = None

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.read_timeout is not None:
            self.sock.settimeout(self.read_timeout)

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Mapping[str, Any] = {},
        *,
        encode_chunked: bool = False,
    ) -> None:
        if self.sock is None:
            self.connect()
        with _corked(self.sock):
            super().request(method, url, body, headers, encode_chunked=encode_chunked)


class OneWriteTlsConnection(http.client.HTTPSConnection, OneWriteConnection):
    """The same over TLS (IoT Core's endpoint): the head and the body leave as one segment of
    TLS records."""
