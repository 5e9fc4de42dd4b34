"""One thin client adapter per peer: connect, subscribe, publish and receive framing.

Everything else (scheduling, accounting, histograms) is the same load generator for every server.
``hubbub`` speaks protocol v1 (docs/protocol.md); the bare ``websockets`` peer speaks the same
frames for subscribe/send/ping (bench/peers/ws_broadcast.py); ``socketio`` speaks Socket.IO v5 over
Engine.IO v4 on a WebSocket, written out here so that all three share one lean client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from bench.tally import MARK
from bench.wsclient import WSClient, connect

__all__ = ["ADAPTERS", "Client", "Sink"]

Frame = dict[str, Any]


class Sink:
    """Where delivered payloads go; the load generator's subscriber accounting implements it."""

    def message(self, text: bytes, now_ns: int) -> None:
        pass

    def reply(self, frame: Frame, now_ns: int) -> None:
        """A frame that is not a delivery and that no request waited for (acks, errors...)."""

    def seen_seq(self, seq: int) -> None:
        """The server's per-topic ``seq`` of a delivery, where the peer has one worth resuming."""


class Client:
    """One logical client. ``publish`` never waits; requests wait for their reply."""

    name = "base"
    path = "/"
    message_prefix = b'{"type":"message"'

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.ws: WSClient | None = None
        self._refs = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[Frame]] = {}

    async def open(self, host: str, port: int, *, timeout: float = 15.0) -> None:
        self.ws = await connect(host, port, self.path, self._on_text, timeout=timeout)

    def _on_text(self, data: bytes, now_ns: int) -> None:
        if data.startswith(self.message_prefix):
            start = data.find(MARK)
            if start >= 0:
                start += len(MARK)
                self.sink.message(data[start : data.find(b'"', start)], now_ns)
                return
        self._on_other(data, now_ns)

    def _on_other(self, data: bytes, now_ns: int) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            return
        if isinstance(frame, dict):
            self._dispatch(frame, now_ns)

    def _dispatch(self, frame: Frame, now_ns: int) -> None:
        ref = frame.get("ref")
        waiter = self._waiting.pop(ref, None) if isinstance(ref, str) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(frame)
            return
        self.sink.reply(frame, now_ns)

    async def _request(self, frame: Frame, timeout: float) -> Frame:
        assert self.ws is not None
        ref = f"r{next(self._refs)}"
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = waiter
        self.ws.send_text(json.dumps({**frame, "ref": ref}))
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiting.pop(ref, None)

    async def register(self, nickname: str, timeout: float = 15.0) -> Frame:
        """Nothing to do for peers without identities; hubbub's answers its ``welcome``."""
        return {}

    async def subscribe(self, topic: str, since: int | None = None, timeout: float = 15.0) -> Frame:
        frame: Frame = {"action": "subscribe", "topic": topic}
        if since is not None:
            frame["since"] = since
        reply = await self._request(frame, timeout)
        if reply.get("type") != "subscribed":
            raise RuntimeError(f"subscribe refused: {reply}")
        return reply

    def publish(self, topic: str, text: str, client_msg_id: str) -> None:
        assert self.ws is not None
        self.ws.send_text(
            json.dumps(
                {"action": "send", "topic": topic, "text": text, "clientMsgId": client_msg_id}
            )
        )

    def keepalive(self) -> None:
        if self.ws is not None:
            self.ws.send_text('{"action":"ping"}')

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.ws.is_open

    def abort(self) -> None:
        if self.ws is not None:
            self.ws.abort()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class HubbubClient(Client):
    name = "hubbub"
    path = "/ws"

    def _on_text(self, data: bytes, now_ns: int) -> None:
        super()._on_text(data, now_ns)
        if data.startswith(self.message_prefix):
            at = data.find(b'"seq":')
            if at >= 0:
                at += 6
                self.sink.seen_seq(int(data[at : data.find(b",", at)]))

    async def register(self, nickname: str, timeout: float = 15.0) -> Frame:
        reply = await self._request({"action": "register", "nickname": nickname}, timeout)
        if reply.get("type") != "welcome":
            raise RuntimeError(f"register refused: {reply}")
        return reply

    async def subscribe(self, topic: str, since: int | None = None, timeout: float = 15.0) -> Frame:
        reply = await super().subscribe(topic, since, timeout)
        # a resume carries the missed messages inside the reply: they count as deliveries
        arrived = time.monotonic_ns()
        for message in reply.get("messages") or []:
            text = str(message.get("text", ""))
            if text.startswith("~"):
                self.sink.message(text[1:].encode(), arrived)
                self.sink.seen_seq(int(message["seq"]))
        return reply


class BroadcastClient(Client):
    name = "websockets"
    path = "/"


class SocketIOClient(Client):
    """Socket.IO v5 / Engine.IO v4 on a WebSocket: ``0{open}``, ``40`` connect, ``42[event,...]``
    events, ``43`` acks, and the server's ``2`` pings answered with ``3``."""

    name = "socketio"
    path = "/socket.io/?EIO=4&transport=websocket"
    message_prefix = b'42["message"'

    def __init__(self, sink: Sink) -> None:
        super().__init__(sink)
        self._connected: asyncio.Future[None] | None = None
        self._acks = itertools.count(1)
        self._ack_waiting: dict[int, asyncio.Future[Any]] = {}

    async def open(self, host: str, port: int, *, timeout: float = 15.0) -> None:
        self._connected = asyncio.get_running_loop().create_future()
        await super().open(host, port, timeout=timeout)
        assert self.ws is not None
        self.ws.send_text("40")
        await asyncio.wait_for(self._connected, timeout)

    def _on_other(self, data: bytes, now_ns: int) -> None:
        kind = data[:1]
        if kind == b"2":  # engine.io ping
            assert self.ws is not None
            self.ws.send_text("3")
        elif data.startswith(b"40"):
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(None)
        elif data.startswith(b"43"):
            body = data[2:]
            split = body.find(b"[")
            ack_id = int(body[:split])
            waiter = self._ack_waiting.pop(ack_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(json.loads(body[split:]))
        elif data.startswith(b"42"):
            try:
                event = json.loads(data[2:])
            except ValueError:
                return
            if isinstance(event, list) and len(event) == 2 and isinstance(event[1], dict):
                self.sink.reply(event[1], now_ns)

    async def _emit_with_ack(self, event: str, payload: Any, timeout: float) -> Any:
        assert self.ws is not None
        ack_id = next(self._acks)
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ack_waiting[ack_id] = waiter
        self.ws.send_text(f"42{ack_id}" + json.dumps([event, payload]))
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._ack_waiting.pop(ack_id, None)

    async def subscribe(self, topic: str, since: int | None = None, timeout: float = 15.0) -> Frame:
        reply = await self._emit_with_ack("subscribe", {"topic": topic}, timeout)
        return {"type": "subscribed", "ack": reply}

    def publish(self, topic: str, text: str, client_msg_id: str) -> None:
        assert self.ws is not None
        self.ws.send_text(
            "42"
            + json.dumps(["send", {"topic": topic, "text": text, "clientMsgId": client_msg_id}])
        )

    def keepalive(self) -> None:
        if self.ws is not None:
            self.ws.send_text('42["ping"]')


ADAPTERS: dict[str, Callable[[Sink], Client]] = {
    "hubbub": HubbubClient,
    "websockets": BroadcastClient,
    "socketio": SocketIOClient,
}
