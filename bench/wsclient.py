"""A lean WebSocket client (RFC 6455) for the load generator.

Thousands of these live in one generator process, so the receive path is a plain
``asyncio.Protocol`` that parses frames and calls one synchronous callback per text frame, with the
arrival time taken once per read: no task, queue or await per delivered frame. That keeps the
generator's own CPU small next to the server's, which is what is being measured. Frames sent by the
client are masked, as the RFC requires.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable

from websockets.speedups import apply_mask

__all__ = ["WSClient", "WSError", "connect"]

OnText = Callable[[bytes, int], None]
"""(payload, arrival time in ``time.monotonic_ns()``)."""

_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
_MAX_FRAME = 4 * 1024 * 1024
_MAX_HEAD = 16 * 1024


class WSError(Exception):
    pass


def _frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + apply_mask(payload, mask)


class WSClient(asyncio.Protocol):
    def __init__(self, host: str, port: int, path: str, on_text: OnText) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\nUser-Agent: hubbub-bench\r\n\r\n"
        ).encode()
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.status: int | None = None
        self.close_code: int | None = None
        self._buf = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []

    # asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        transport.write(self._request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(WSError(f"closed during the handshake ({self.status})"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail("handshake too long")
                return
            status_line = bytes(buf[: buf.find(b"\r\n")]).split(b" ", 2)
            self.status = int(status_line[1]) if len(status_line) > 1 else 0
            del buf[: end + 4]
            if self.status != 101:
                self._fail(f"handshake answered {self.status}")
                return
            self._upgraded = True
            self.opened.set_result(None)
        self._parse(time.monotonic_ns())

    def _parse(self, now_ns: int) -> None:
        buf = self._buf
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if length > _MAX_FRAME:
                self._fail("frame too big")
                return
            end = pos + head + length
            if end > size:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            opcode = b0 & 0x0F
            if opcode in (_TEXT, _BINARY):
                if b0 & 0x80:
                    self.on_text(payload, now_ns)
                else:
                    self._fragments = [payload]
            elif opcode == _CONT:
                self._fragments.append(payload)
                if b0 & 0x80:
                    whole = b"".join(self._fragments)
                    self._fragments = []
                    self.on_text(whole, now_ns)
            elif opcode == _PING:
                self._write(_frame(_PONG, payload))
            elif opcode == _CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._write(_frame(_CLOSE, payload[:2]))
                if self.transport is not None:
                    self.transport.close()
                break
        if pos:
            del buf[:pos]

    def _fail(self, why: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(WSError(why))
        if self.transport is not None:
            self.transport.close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # API --------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._upgraded and self.transport is not None and not self.transport.is_closing()

    def send_text(self, text: str | bytes) -> None:
        """Queue one text frame; never waits (the transport buffers), so publishing stays open
        loop."""
        self._write(_frame(_TEXT, text.encode() if isinstance(text, str) else text))

    def send_ping(self, payload: bytes = b"") -> None:
        self._write(_frame(_PING, payload))

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a client that vanishes)."""
        if self.transport is not None:
            self.transport.abort()

    async def close(self, timeout: float = 2.0) -> None:
        self._write(_frame(_CLOSE, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.abort()


async def connect(
    host: str, port: int, path: str, on_text: OnText, *, timeout: float = 10.0
) -> WSClient:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, protocol = await loop.create_connection(
            lambda: WSClient(host, port, path, on_text), host, port
        )
        try:
            await protocol.opened
        except BaseException:
            protocol.abort()
            raise
    return protocol
