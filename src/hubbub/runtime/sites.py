"""The runtime's listening sockets: one that takes plain HTTP and TLS on the same port, and a
plain one; both put the :mod:`~hubbub.runtime.headguard` in front of aiohttp's protocol.

Handlers build their ``@connections`` endpoint as ``https://{domainName}/{stage}`` whatever scheme
the client connected with; ``domainName`` is the host and port the client used. For that URL to work
when the client came in over plain ``ws://`` (the case serverless-offline gets wrong), the main port
answers TLS too: every connection's first byte is peeked at, and a TLS handshake record (0x16) gets
the TLS context while anything else is served as plain HTTP. Both end up in the same aiohttp
server, so routes, shutdown and connection tracking are shared with the other sites. The wait for
the first byte and the TLS handshake count against the request head's deadline, and the
connection holds one of its address's unfinished-head slots from the moment it is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from aiohttp import web

from hubbub.runtime.headguard import HeadGuard

__all__ = ["DualSite", "GuardedSockSite"]

_TLS_HANDSHAKE = 0x16


class GuardedSockSite(web.SockSite):
    """aiohttp's site on a bound socket, each connection's protocol wrapped by the guard."""

    __slots__ = ("_guard",)

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        guard: HeadGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, sock, ssl_context=ssl_context)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        self._server = await loop.create_server(
            self._guard.factory(server),
            sock=self._sock,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._guard.timeout_s if self._ssl_context else None,
            backlog=self._backlog,
        )


class DualSite(web.BaseSite):
    __slots__ = ("_accepting", "_guard", "_name", "_pending", "_sock", "_tls")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        tls_context: ssl.SSLContext,
        guard: HeadGuard,
    ) -> None:
        super().__init__(runner)
        self._sock = sock
        self._tls = tls_context
        self._guard = guard
        host, port = sock.getsockname()[:2]
        self._name = f"http+https://{host}:{port}"
        self._accepting: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        self._sock.listen(self._backlog)
        self._sock.setblocking(False)
        self._accepting = asyncio.create_task(self._accept())

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        for task in list(self._pending):
            task.cancel()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        self._sock.close()
        await super().stop()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(self._sock)
            except OSError:  # e.g. EMFILE: back off a little instead of spinning
                await asyncio.sleep(0.1)
                continue
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if not self._guard.heads.start(address):
                self._guard.refused += 1
                conn.close()  # too early to know whether it speaks TLS: no answer can be read
                continue
            task = asyncio.create_task(self._hand_over(conn, address))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _hand_over(self, conn: socket.socket, address: str) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        deadline = loop.time() + self._guard.timeout_s
        adopted = False
        try:
            async with asyncio.timeout_at(deadline):
                first = await _peek(loop, conn)
            if not first:
                conn.close()
                return
            tls = first[0] == _TLS_HANDSHAKE
            await loop.connect_accepted_socket(
                self._guard.adopt(server, address, deadline),
                conn,
                ssl=self._tls if tls else None,
                ssl_handshake_timeout=max(0.1, deadline - loop.time()) if tls else None,
            )
            # the protocol has the connection (a failed TLS handshake raises before it does)
            # and frees the slot when the head is in or the connection is gone
            adopted = True
        except (OSError, TimeoutError, ssl.SSLError):
            conn.close()
        except asyncio.CancelledError:
            conn.close()
            raise
        finally:
            if not adopted:
                self._guard.heads.finish(address)


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    """The connection's first byte, left in the socket for whoever reads it next."""
    conn.setblocking(False)
    while True:
        try:
            return conn.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            pass
        readable = loop.create_future()

        def ready(future: asyncio.Future[None] = readable) -> None:
            if not future.done():
                future.set_result(None)

        loop.add_reader(conn.fileno(), ready)
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
