"""A listening socket that takes plain HTTP and TLS on the same port.

Handlers build their ``@connections`` endpoint as ``https://{domainName}/{stage}`` whatever scheme
the client connected with; ``domainName`` is the host and port the client used. For that URL to work
when the client came in over plain ``ws://`` (the case serverless-offline gets wrong), the main port
answers TLS too: every connection's first byte is peeked at, and a TLS handshake record (0x16) gets
the TLS context while anything else is served as plain HTTP. Both end up in the same aiohttp
server, so routes, shutdown and connection tracking are shared with the other sites.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from aiohttp import web

__all__ = ["DualSite"]

_TLS_HANDSHAKE = 0x16
_FIRST_BYTE_TIMEOUT_S = 30.0
_HANDSHAKE_TIMEOUT_S = 10.0


class DualSite(web.BaseSite):
    __slots__ = ("_accepting", "_name", "_pending", "_sock", "_tls")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, tls_context: ssl.SSLContext
    ) -> None:
        super().__init__(runner)
        self._sock = sock
        self._tls = tls_context
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
                conn, _ = await loop.sock_accept(self._sock)
            except OSError:  # e.g. EMFILE: back off a little instead of spinning
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._hand_over(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _hand_over(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        try:
            async with asyncio.timeout(_FIRST_BYTE_TIMEOUT_S):
                first = await _peek(loop, conn)
            if not first:
                conn.close()
                return
            await loop.connect_accepted_socket(
                server,
                conn,
                ssl=self._tls if first[0] == _TLS_HANDSHAKE else None,
                ssl_handshake_timeout=_HANDSHAKE_TIMEOUT_S if first[0] == _TLS_HANDSHAKE else None,
            )
        except (OSError, TimeoutError, ssl.SSLError):
            conn.close()
        except asyncio.CancelledError:
            conn.close()
            raise


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
