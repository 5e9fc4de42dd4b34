"""A chat session that survives disconnects: the protocol side of the terminal clients.

It reconnects with exponential backoff and jitter, re-registers with the saved token, and
re-subscribes with ``since`` set to the last seq it showed, so nothing is missed or shown twice.
Rendering is left to the caller through ``on_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from hubbub.client import ClientError, HubbubClient

__all__ = ["ChatSession"]

Frame = dict[str, Any]
Handler = Callable[[Frame], Awaitable[None] | None]


@dataclass
class ChatSession:
    url: str
    topics: list[str]
    nickname: str | None = None
    token: str | None = None
    on_event: Handler | None = None
    on_status: Callable[[str], None] | None = None
    last_seq: dict[str, int] = field(default_factory=dict)
    client: HubbubClient | None = None
    _stopping: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _pumper: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Stay connected until ``stop()``; each (re)connection resumes every topic."""
        delay = 0.5
        while not self._stopping:
            try:
                await self._connect_once()
                delay = 0.5
                assert self.client is not None
                await self.client.closed.wait()
            except (OSError, websockets.WebSocketException, ClientError, TimeoutError) as exc:
                self._status(f"offline ({type(exc).__name__})")
            finally:
                self._ready.clear()
            if self._stopped():
                return
            self._status("reconnecting")
            await asyncio.sleep(random.uniform(0, delay))  # jitter, not crypto
            delay = min(delay * 2, 15.0)

    async def _connect_once(self) -> None:
        self.client = await HubbubClient.connect(self.url, token=self.token)
        await self.client.hello()  # and ping as often as the server's gateway needs
        if self.nickname and self.token is None:
            welcome = await self.client.register(self.nickname)
            self.token = str(welcome["token"])
        for topic in self.topics:
            since = self.last_seq.get(topic, 0)
            reply = await self.client.subscribe(topic, since=since)
            for message in reply.get("messages", []):
                await self._deliver({"type": "message", **message})
        self._status("online")
        self._ready.set()
        self._pumper = asyncio.create_task(self._pump(self.client))

    async def _pump(self, client: HubbubClient) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while not client.closed.is_set() or not client.events.empty():
                get = asyncio.create_task(client.events.get())
                closed = asyncio.create_task(client.closed.wait())
                done, pending = await asyncio.wait(
                    {get, closed}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                if get in done:
                    await self._deliver(get.result())
                elif client.events.empty():
                    return

    async def _deliver(self, frame: Frame) -> None:
        if frame.get("type") == "message":
            topic = str(frame["topic"])
            seq = int(frame["seq"])
            if seq <= self.last_seq.get(topic, 0):
                return  # shown already
            self.last_seq[topic] = seq
        if self.on_event is not None:
            result = self.on_event(frame)
            if result is not None:
                await result

    async def request(self, action: str, **fields: Any) -> Frame:
        await asyncio.wait_for(self._ready.wait(), timeout=30)
        assert self.client is not None
        return await self.client.request(action, **fields)

    async def send(self, topic: str, text: str) -> Frame:
        await asyncio.wait_for(self._ready.wait(), timeout=30)
        assert self.client is not None
        return await self.client.send(topic, text)

    async def stop(self) -> None:
        self._stopping = True
        if self.client is not None:
            await self.client.close()

    def _stopped(self) -> bool:
        """Re-read after awaits: ``stop()`` may have run meanwhile."""
        return self._stopping

    def _status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)
