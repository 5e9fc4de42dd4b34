"""The open connections of one WebSocket API and delivery to them, as the ``@connections`` API
answers it: 200 delivered, 410 gone, 413 too large, 429 when the client cannot take more.

Delivery never waits on a slow client: a connection whose send buffer is over the slow-consumer
quota is refused (429) rather than buffered without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from hubbub.runtime.apigateway.events import ConnectionInfo
from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.apigateway.websocket.frames import text_frame
from hubbub.runtime.faults import Faults
from hubbub.runtime.metrics import Registry

__all__ = ["ConnectionRegistry", "LiveConnection", "iso_time"]


@dataclass(slots=True, eq=False)
class LiveConnection:
    ws: web.WebSocketResponse
    info: ConnectionInfo
    opened: float
    last_active: float
    last_active_ms: int
    server_close: tuple[int, str] | None = None
    in_flight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(32))
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    transport: asyncio.Transport | None = None
    """The socket's transport, kept so that a fan-out writes to it without aiohttp's layers."""
    last_sent: float = 0.0
    """When a frame was last written to it (monotonic): traffic either way keeps a connection
    from the idle timeout (``last_active`` is the client's side)."""


class ConnectionRegistry:
    """Open connections by id, and what ``@connections`` does to them: post, describe, delete."""

    def __init__(self, quotas: Quotas, faults: Faults) -> None:
        self.quotas = quotas
        self.faults = faults
        self.connections: dict[str, LiveConnection] = {}
        self.stats = {"connections_total": 0, "messages_in": 0, "posts": 0, "gone": 0}
        self.metrics: Registry | None = None

    def _gauge_connections(self) -> None:
        if self.metrics is not None:
            self.metrics.set(
                "websocket_connections_open", len(self.connections), help="Open connections"
            )

    async def _close(self, conn: LiveConnection, code: int, reason: str) -> None:
        if conn.server_close is None:
            conn.server_close = (code, reason)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode())

    async def _send_raw(self, conn: LiveConnection, data: bytes) -> bool:
        if self._open_transport(conn) is None:
            return False
        try:
            await conn.ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def _write_now(self, conn: LiveConnection, data: bytes) -> bool:
        """``_send_raw`` without a turn of the event loop: the frame is on the transport when
        this returns (as ``@connections`` deliveries are written)."""
        transport = self._open_transport(conn)
        if transport is None:
            return False
        transport.write(text_frame(data))
        return True

    def _open_transport(self, conn: LiveConnection) -> asyncio.Transport | None:
        """The connection's transport, unless it is closed or closing, or holds more unsent
        than the slow-consumer quota (the frame is then dropped, as API Gateway drops it)."""
        transport = conn.transport
        if conn.ws.closed or transport is None or transport.is_closing():
            return None
        if transport.get_write_buffer_size() > self.quotas.slow_consumer_bytes:
            return None
        conn.last_sent = time.monotonic()
        return transport

    async def post(self, cid: str, data: bytes, *, hang: bool = True) -> int:
        """Deliver one frame; the status code ``POST @connections/{id}`` answers."""
        if hang and self.faults.post_hang_s:
            await asyncio.sleep(self.faults.post_hang_s)
        status = await self._post(cid, data)
        if self.metrics is not None:
            self.metrics.inc(
                "connections_api_posts_total",
                labels={"status": str(status)},
                help="@connections deliveries by status (410: gone)",
            )
        return status

    async def _post(self, cid: str, data: bytes) -> int:
        self.stats["posts"] += 1
        if len(data) > self.quotas.post_bytes:
            return 413
        if self.faults.post_status is not None:
            return self.faults.post_status
        conn = self.connections.get(cid)
        if conn is None or conn.ws.closed:
            self.stats["gone"] += 1
            return 410
        if await self._send_raw(conn, data):
            return 200
        if _is_closed(conn.ws):
            self.stats["gone"] += 1
            return 410
        return 429

    async def post_many(self, data: bytes, ids: list[str]) -> tuple[list[str], list[str]]:
        """The batch extension: one frame to many connections, in order; (gone, failed)."""
        if self.faults.post_hang_s:  # the batch hangs as a whole, like parallel posts would
            await asyncio.sleep(self.faults.post_hang_s)
        return self.deliver_many(data, ids)

    def deliver_many(self, data: bytes, ids: list[str]) -> tuple[list[str], list[str]]:
        """One frame to many connections; (gone, failed), known before anything is written.

        The same answers as one ``post`` per connection (410 for a closed connection, 429 for one
        whose transport is closing or whose send buffer is over the slow-consumer quota, 413 for
        an oversized frame), but the WebSocket frame (header and payload: a server never masks)
        is built once and written straight to each transport, with no await, task or metric
        update per recipient. The writes run in the next step of the event loop, after the
        caller's answer has gone out: the fan-out function goes on with its next record while
        the gateway writes this one (batches from one caller stay in order: callbacks run in
        the order they were scheduled).
        """
        gone: list[str] = []
        failed: list[str] = []
        count = len(ids)
        self.stats["posts"] += count
        status = 413 if len(data) > self.quotas.post_bytes else self.faults.post_status
        if status is not None:
            if status == 410:
                gone = list(ids)
                self.stats["gone"] += count
            else:
                failed = list(ids)
            self._count_posts({status: count})
            return gone, failed
        targets = self._writable(ids, gone, failed)
        if targets:
            asyncio.get_running_loop().call_soon(_write_all, text_frame(data), targets)
        self.stats["gone"] += len(gone)
        self._count_posts({200: len(targets), 410: len(gone), 429: len(failed)})
        return gone, failed

    async def post_sends(
        self, frames: list[bytes], sends: list[tuple[list[int], list[str]]]
    ) -> tuple[list[str], list[str]]:
        """The batch extension for a stream batch: each send names the frames (indexes into
        ``frames``) that its connections get, in that order; (gone, failed)."""
        if self.faults.post_hang_s:
            await asyncio.sleep(self.faults.post_hang_s)
        return self.deliver_sends(frames, sends)

    def deliver_sends(
        self, frames: list[bytes], sends: list[tuple[list[int], list[str]]]
    ) -> tuple[list[str], list[str]]:
        """Several frames, each connection its own run of them, in ONE write per connection.

        The answers are ``deliver_many``'s, decided once per connection for all of its frames:
        a connection gets every frame of its send or none (a frame over the post limit fails
        the connections it is for, 413), so one that failed has missed a tail, never a frame in
        the middle, and the retry keeps its order. Each send's frames are encoded and joined once
        and the same bytes written to each of its transports.
        """
        gone: list[str] = []
        failed: list[str] = []
        wire = [text_frame(f) for f in frames]
        oversized = {i for i, f in enumerate(frames) if len(f) > self.quotas.post_bytes}
        writes: list[tuple[bytes, list[asyncio.Transport]]] = []
        counts: dict[int, int] = {}
        for indexes, ids in sends:
            self.stats["posts"] += len(ids) * len(indexes)
            status = 413 if oversized.intersection(indexes) else self.faults.post_status
            if status is not None:
                (gone if status == 410 else failed).extend(ids)
                counts[status] = counts.get(status, 0) + len(ids)
                continue
            slow_before = len(failed)
            targets = self._writable(ids, gone, failed)
            if len(failed) > slow_before:
                counts[429] = counts.get(429, 0) + len(failed) - slow_before
            if targets:
                writes.append((b"".join(wire[i] for i in indexes), targets))
        if writes:
            asyncio.get_running_loop().call_soon(_write_each, writes)
        self.stats["gone"] += len(gone)
        counts[410] = len(gone)
        counts[200] = sum(len(t) for _, t in writes)
        self._count_posts(counts)
        return gone, failed

    def _writable(
        self, ids: list[str], gone: list[str], failed: list[str]
    ) -> list[asyncio.Transport]:
        """The transports of ``ids`` that may take a write now. A closed connection goes to
        ``gone`` (410); one that is closing or holds more than the slow-consumer quota unsent
        goes to ``failed`` (429), so a stalled reader never grows the server's memory."""
        limit = self.quotas.slow_consumer_bytes
        targets: list[asyncio.Transport] = []
        now = time.monotonic()
        for cid in ids:
            conn = self.connections.get(cid)
            if conn is None or conn.ws.closed:
                gone.append(cid)
                continue
            transport = conn.transport
            if (
                transport is None
                or transport.is_closing()
                or transport.get_write_buffer_size() > limit
            ):
                failed.append(cid)
                continue
            conn.last_sent = now
            targets.append(transport)
        return targets

    def _count_posts(self, by_status: dict[int, int]) -> None:
        if self.metrics is None:
            return
        for status, n in by_status.items():
            if n:
                self.metrics.inc(
                    "connections_api_posts_total",
                    n,
                    labels={"status": str(status)},
                    help="@connections deliveries by status (410: gone)",
                )

    def describe(self, cid: str) -> dict[str, Any] | None:
        """``GET @connections/{id}``: when it connected, from where, when it last sent a frame."""
        conn = self.connections.get(cid)
        if conn is None:
            return None
        identity: dict[str, Any] = {"sourceIp": conn.info.source_ip}
        if conn.info.user_agent is not None:
            identity["userAgent"] = conn.info.user_agent
        return {
            "connectedAt": iso_time(conn.info.connected_at),
            "identity": identity,
            "lastActiveAt": iso_time(conn.last_active_ms),
        }

    async def delete(self, cid: str) -> bool:
        """``DELETE @connections/{id}``: close with 1000; False when no such connection is open."""
        conn = self.connections.get(cid)
        if conn is None:
            return False
        await self._close(conn, WSCloseCode.OK, "Connection Closed Normally")
        return True


def _write_all(frame: bytes, transports: list[asyncio.Transport]) -> None:
    for transport in transports:
        if not transport.is_closing():  # closed since the batch was accepted: as if lost
            transport.write(frame)


def _write_each(writes: list[tuple[bytes, list[asyncio.Transport]]]) -> None:
    for data, transports in writes:
        _write_all(data, transports)


def _is_closed(ws: web.WebSocketResponse) -> bool:
    """Re-read after an await: the connection may have closed meanwhile."""
    return ws.closed


def iso_time(epoch_ms: int) -> str:
    """ISO 8601 with milliseconds, as ``GET @connections`` writes its times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + (
        f".{epoch_ms % 1000:03d}Z"
    )
