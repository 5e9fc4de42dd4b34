"""The two ways MQTT reaches the broker: plain TCP on a port of its own, and WebSocket at
``/mqtt`` on the runtime's HTTP port (subprotocol ``mqtt``, binary frames; a frame may carry part
of a packet or several, as MQTT 5.0 §6 allows). Both only move bytes; ``connection.py`` does
the rest.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from hubbub.runtime.iot.packets import MalformedPacket

__all__ = ["WEBSOCKET_PATH", "TcpTransport", "WebSocketTransport"]

WEBSOCKET_PATH = "/mqtt"


class TcpTransport:
    kind = "tcp"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.ip_address = str(peer[0]) if peer else ""
        self.headers: dict[str, str] = {}
        self.query: dict[str, str] = {}
        self.query_string = ""
        self.closed_cleanly = False

    async def read(self) -> bytes:
        return await self.reader.read(65536)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)


class WebSocketTransport:
    kind = "websocket"

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.ip_address = request.remote or ""
        self.headers = dict(request.headers.items())
        self.query = dict(request.query.items())
        self.query_string = request.query_string
        self.closed_cleanly = False
        """A WebSocket close frame is, to IoT Core, the client's own disconnect."""

    async def read(self) -> bytes:
        msg = await self.ws.receive()
        if msg.type is WSMsgType.BINARY:
            if not msg.data:  # an empty frame carries nothing; the next one might
                return await self.read()
            return bytes(msg.data)
        if msg.type is WSMsgType.TEXT:
            raise MalformedPacket("MQTT over WebSocket takes binary frames only")
        self.closed_cleanly = msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING)
        return b""

    async def write(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2.0)
