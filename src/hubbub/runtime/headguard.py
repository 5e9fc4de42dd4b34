"""A deadline for the request head, and a cap on unfinished heads per address (slowloris).

aiohttp's server has no header-read timeout: a connection that sends one header line every few
seconds stays open for its keep-alive time (an hour by default), and a few hundred such
connections hold as many sockets and handler tasks. The guard sits between the transport and
aiohttp's protocol, where the raw (decrypted) bytes pass, so it covers plain and TLS connections
alike: the whole request head, up to its blank line, must arrive within ``header_timeout_s`` of the
connection opening, else the connection is answered 408 and closed; and one address may have only
``unfinished_heads_per_address`` connections whose head has not arrived yet (a further one is
answered 429 and closed at once). Peers named by ``--trusted-proxy`` are not capped: the proxy
reads heads itself and carries many clients. Later requests on a kept-alive connection are bounded
by the server's keep-alive timeout instead (aiohttp closes a connection whose next request has not
arrived by then). The WebSocket frames after the upgrade pass straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from hubbub.runtime.forwarded import TrustedProxies

__all__ = ["HeadGuard", "HeadScanner", "UnfinishedHeads"]

_END = b"\r\n\r\n"
_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_BUSY_ANSWER = b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class HeadScanner:
    """Sans-I/O: feed the first bytes of a connection, learn when its request head has ended."""

    def __init__(self) -> None:
        self._tail = b""
        self.done = False

    def feed(self, data: bytes) -> bool:
        """True once the blank line that ends the head has been seen (in this or an earlier
        chunk); a line end split across chunks counts."""
        if not self.done:
            window = self._tail + bytes(data)
            self.done = _END in window
            self._tail = window[-(len(_END) - 1) :]
        return self.done


class UnfinishedHeads:
    """Per address: how many connections are still sending their request head."""

    def __init__(self, cap: int, trusted: TrustedProxies) -> None:
        self.cap = cap
        self.trusted = trusted
        self._count: dict[str, int] = {}

    def start(self, address: str) -> bool:
        """Count one more unfinished head for ``address``; False (nothing counted) at the cap."""
        if address in self.trusted:
            return True
        held = self._count.get(address, 0)
        if 0 < self.cap <= held:
            return False
        self._count[address] = held + 1
        return True

    def finish(self, address: str) -> None:
        if address in self.trusted:
            return
        left = self._count.get(address, 0) - 1
        if left > 0:
            self._count[address] = left
        else:
            self._count.pop(address, None)

    def unfinished(self, address: str) -> int:
        return self._count.get(address, 0)


class HeadGuard:
    """The guard of one server: wraps each connection's protocol (:meth:`factory`)."""

    def __init__(self, timeout_s: float, cap: int, trusted: TrustedProxies) -> None:
        self.timeout_s = timeout_s
        self.heads = UnfinishedHeads(cap, trusted)
        self.timed_out = 0
        self.refused = 0

    def factory(self, inner: Callable[[], asyncio.BaseProtocol]) -> Callable[[], _Guarded]:
        """A protocol factory for ``loop.create_server``: counts and times each connection from
        ``connection_made``."""
        return lambda: _Guarded(self, inner(), address=None, deadline=None)

    def adopt(
        self, inner: Callable[[], asyncio.BaseProtocol], address: str, deadline: float
    ) -> Callable[[], _Guarded]:
        """For a connection already counted (by :class:`~hubbub.runtime.sites.DualSite`, from
        its accept): the guard takes over its slot and its deadline."""
        return lambda: _Guarded(self, inner(), address=address, deadline=deadline)


class _Guarded(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol; watches the head until it has arrived."""

    def __init__(
        self,
        guard: HeadGuard,
        inner: asyncio.BaseProtocol,
        *,
        address: str | None,
        deadline: float | None,
    ) -> None:
        self._guard = guard
        self._inner: Any = inner
        self._address = address
        self._deadline = deadline
        self._scanner = HeadScanner()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._live = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport, though not an asyncio.Transport subclass on uvloop
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        if self._address is None:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if not self._guard.heads.start(address):
                self._guard.refused += 1
                transport.write(_BUSY_ANSWER)
                transport.close()
                return
            self._address = address
            self._deadline = loop.time() + self._guard.timeout_s
        assert self._deadline is not None
        self._timer = loop.call_at(self._deadline, self._overdue)
        self._live = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._live:
            return
        if not self._scanner.done and self._scanner.feed(data):
            self._head_arrived()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self._live:
            return None
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._live:
            return
        if not self._scanner.done:
            self._head_arrived()
        self._live = False
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._live:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._live:
            self._inner.resume_writing()

    def _head_arrived(self) -> None:
        """The head is in (or the connection is gone): stop the clock, free the slot."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._scanner.done = True
        if self._address is not None:
            self._guard.heads.finish(self._address)

    def _overdue(self) -> None:
        self._timer = None
        if self._scanner.done or self._transport is None:
            return
        self._guard.timed_out += 1
        self._transport.write(_TIMEOUT_ANSWER)
        self._transport.close()
