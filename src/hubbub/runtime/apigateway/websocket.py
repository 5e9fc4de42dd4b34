"""The WebSocket side of API Gateway: handshake, ``$connect`` (and its authorizer), route
selection, quotas, route responses, ``$disconnect``, and delivery for the ``@connections`` API.

One aiohttp handler per connection reads frames and hands each to a Lambda worker through the
function pool; the event loop never runs handler code.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from hubbub.runtime.apigateway.authorizers import AuthorizerResult, run_authorizer
from hubbub.runtime.apigateway.events import (
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
)
from hubbub.runtime.apigateway.frameguard import GuardedParser
from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.awsids import connection_id, request_id
from hubbub.runtime.cloudformation import RouteSpec, WebSocketApiSpec
from hubbub.runtime.faults import Faults
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.runtime.metrics import Registry

__all__ = ["LiveConnection", "WebSocketGateway"]

log = logging.getLogger("hubbub.gateway")

_HOP_BY_HOP = frozenset({"connection", "upgrade", "keep-alive", "transfer-encoding"})
_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection closed abnormally",
    1009: "Message too big",
}


class _GuardedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's WebSocket with API Gateway's per-frame limit in front of its parser."""

    def __init__(self, *, frame_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame_bytes = frame_bytes

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler = request.protocol
        handler._payload_parser = GuardedParser(
            handler._payload_parser, self._frame_bytes, self._frame_too_big
        )

    def _frame_too_big(self, size: int) -> None:
        reader: Any = self._reader
        reader.set_exception(
            WebSocketError(
                WSCloseCode.MESSAGE_TOO_BIG,
                f"frame of {size} bytes is over the {self._frame_bytes}-byte frame quota",
            )
        )


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


class WebSocketGateway:
    def __init__(
        self,
        api: WebSocketApiSpec,
        pools: dict[str, FunctionPool],
        quotas: Quotas,
        faults: Faults,
    ) -> None:
        self.api = api
        self.pools = pools
        self.quotas = quotas
        self.faults = faults
        self.connections: dict[str, LiveConnection] = {}
        self._selection_path = _selection_path(api.selection_expression)
        self._reaper: asyncio.Task[None] | None = None
        self._disconnects: set[asyncio.Task[None]] = set()
        self._connect_times: list[float] = []
        self._draining = False
        self.stats = {"connections_total": 0, "messages_in": 0, "posts": 0, "gone": 0}
        self.metrics: Registry | None = None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap())

    async def shutdown(self, grace_s: float = 10.0) -> None:
        """Stop taking frames, let in-flight invocations answer, then close everyone with 1001.

        Their ``$disconnect`` invocations are awaited too, so the store is left consistent.
        """
        self._draining = True
        if self._reaper is not None:
            self._reaper.cancel()
        deadline = time.monotonic() + grace_s
        in_flight: set[asyncio.Task[Any]] = set()
        for conn in self.connections.values():
            in_flight |= conn.tasks
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace_s)
        for conn in list(self.connections.values()):
            await self._close(conn, WSCloseCode.GOING_AWAY, "Going away")
        while (self.connections or self._disconnects) and time.monotonic() < deadline:
            pending = set(self._disconnects)
            for conn in self.connections.values():
                pending |= conn.tasks
            if not pending:
                await asyncio.sleep(0.01)
                continue
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))

    async def _reap(self) -> None:
        period = max(0.05, min(1.0, self.quotas.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                if now - conn.last_active > self.quotas.idle_timeout_s or (
                    now - conn.opened > self.quotas.max_connection_s
                ):
                    await self._close(conn, WSCloseCode.GOING_AWAY, "Going away")

    async def _close(self, conn: LiveConnection, code: int, reason: str) -> None:
        if conn.server_close is None:
            conn.server_close = (code, reason)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode())

    # handshake ------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=426, text="This is a WebSocket endpoint.\n")
        if self._draining:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        if not self._admit():
            return web.json_response({"message": "Too Many Requests"}, status=429)
        now_ms = time.time_ns() // 1_000_000
        info, refusal = await self._connect(request, now_ms)
        if refusal is not None:
            return refusal
        cid = info.connection_id
        ws = _GuardedWebSocketResponse(
            frame_bytes=self.quotas.frame_bytes,
            max_msg_size=self.quotas.message_bytes,
            autoping=True,
            compress=False,
            timeout=5.0,
        )
        await ws.prepare(request)
        now = time.monotonic()
        conn = LiveConnection(
            ws=ws,
            info=info,
            opened=now,
            last_active=now,
            last_active_ms=now_ms,
            in_flight=asyncio.Semaphore(self.quotas.in_flight_per_connection),
            transport=request.transport,
        )
        self.connections[cid] = conn
        self.stats["connections_total"] += 1
        self._gauge_connections()
        if self.metrics is not None:
            self.metrics.inc("websocket_connections_total", help="Connections accepted")
        try:
            await self._receive_loop(conn)
        finally:
            self.connections.pop(cid, None)
            self._gauge_connections()
            if conn.tasks:
                await asyncio.wait(set(conn.tasks))
            self._schedule_disconnect(conn)
        return ws

    async def _connect(
        self, request: web.Request, now_ms: int
    ) -> tuple[ConnectionInfo, web.Response | None]:
        """``$connect`` (and its authorizer): the connection's info, or the handshake's refusal.

        A method of its own so that the ``$connect`` event, the header lists and the result do
        not stay referenced by the frame of :meth:`handle`, which lives as long as the
        connection: that is a few KB per idle connection.
        """
        cid = connection_id()
        headers = _event_headers(request)
        info = ConnectionInfo(
            connection_id=cid,
            api_id=self.api.api_id,
            stage=self.api.stage,
            domain_name=request.host,
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
            connected_at=now_ms,
            headers=dict(headers),
        )
        query = list(request.query.items())
        route = self.api.routes.get("$connect")
        if route is not None and route.authorizer is not None:
            verdict = await run_authorizer(
                route.authorizer,
                self.pools[route.authorizer.function],
                info,
                headers=headers,
                query=query,
                request=request,
                limit_bytes=self.quotas.authorizer_result_bytes,
            )
            if not verdict.allowed:
                return info, _refusal(verdict)
            info.authorizer = verdict.context
        if route is not None and route.function is not None:
            event = connect_event(
                info, headers=headers, query=query, rid=request_id(), now_ms=now_ms
            )
            result = await self.pools[route.function].invoke(event)
            status = _status_of(result)
            if not 200 <= status < 300:
                log.info("$connect refused %s with %s", cid, status)
                return info, web.json_response(
                    {"message": "Forbidden" if status in (401, 403) else "Internal server error"},
                    status=status,
                )
        return info, None

    def _gauge_connections(self) -> None:
        if self.metrics is not None:
            self.metrics.set(
                "websocket_connections_open", len(self.connections), help="Open connections"
            )

    def _admit(self) -> bool:
        """API Gateway's new-connections-per-second quota, over a sliding second."""
        now = time.monotonic()
        self._connect_times = [t for t in self._connect_times if now - t < 1.0]
        if len(self._connect_times) >= self.quotas.new_connections_per_s:
            return False
        self._connect_times.append(now)
        return True

    # frames ---------------------------------------------------------------------------------
    async def _receive_loop(self, conn: LiveConnection) -> None:
        ws = conn.ws
        while True:
            await conn.in_flight.acquire()
            msg = await ws.receive()
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and self._draining:
                conn.in_flight.release()  # shutting down: frames from now on are not taken
                continue
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                conn.last_active = time.monotonic()
                conn.last_active_ms = time.time_ns() // 1_000_000
                self.stats["messages_in"] += 1
                if self.metrics is not None:
                    self.metrics.inc("websocket_frames_in_total", help="Frames received")
                if msg.type is WSMsgType.TEXT:
                    body, is_b64 = msg.data, False
                    route_key = self._select_route(body)
                else:
                    body, is_b64 = base64.b64encode(msg.data).decode(), True
                    route_key = "$default"
                task = asyncio.create_task(self._dispatch(conn, route_key, body, is_b64))
                conn.tasks.add(task)
                task.add_done_callback(conn.tasks.discard)
                continue
            conn.in_flight.release()
            if (
                msg.type is WSMsgType.ERROR
                and isinstance(msg.data, WebSocketError)
                and conn.server_close is None
            ):
                code = int(msg.data.code)
                conn.server_close = (code, _REASONS.get(code, str(msg.data)))
            return

    def _select_route(self, body: str) -> str:
        if self._selection_path is None:
            return "$default"
        try:
            value: Any = json.loads(body)
        except (ValueError, RecursionError):
            return "$default"
        for key in self._selection_path:
            if not isinstance(value, dict):
                return "$default"
            value = value.get(key)
        if isinstance(value, str) and value in self.api.routes:
            return value
        return "$default"

    async def _dispatch(
        self, conn: LiveConnection, route_key: str, body: str, is_b64: bool
    ) -> None:
        try:
            route = self.api.routes.get(route_key)
            cid = conn.info.connection_id
            rid = request_id()
            if route is None or route.function is None:
                await self._send_text(
                    conn, {"message": "Forbidden", "connectionId": cid, "requestId": rid}
                )
                return
            event = message_event(
                conn.info,
                route_key=route_key,
                body=body,
                is_base64=is_b64,
                message_id=connection_id(),
                rid=rid,
                now_ms=time.time_ns() // 1_000_000,
            )
            pool = self.pools[route.function]
            invocation = asyncio.create_task(
                pool.invoke(event, rid=rid, kill_after=self.faults.kill_after_invoke)
            )
            if self.faults.duplicate_invocations:
                duplicate = asyncio.create_task(pool.invoke(event))
                conn.tasks.add(duplicate)
                duplicate.add_done_callback(conn.tasks.discard)
            done, _ = await asyncio.wait({invocation}, timeout=self.quotas.integration_timeout_s)
            if not done:
                await self._send_text(
                    conn,
                    {
                        "message": "Endpoint request timed out",
                        "connectionId": cid,
                        "requestId": rid,
                    },
                )
                return
            result = invocation.result()
            if not result.ok:
                await self._send_text(
                    conn,
                    {"message": "Internal server error", "connectionId": cid, "requestId": rid},
                )
                return
            await self._route_response(conn, route, result)
        except Exception:
            log.exception("dispatch failed")
        finally:
            conn.in_flight.release()

    async def _route_response(
        self, conn: LiveConnection, route: RouteSpec, result: InvokeResult
    ) -> None:
        if not route.has_route_response:
            return
        payload = result.payload
        if isinstance(payload, dict):
            body = payload.get("body")
            if body is None:
                return
            text = body if isinstance(body, str) else json.dumps(body)
        elif isinstance(payload, str):
            text = payload
        elif payload is None:
            return
        else:
            text = json.dumps(payload)
        await self._send_raw(conn, text.encode())

    async def _send_text(self, conn: LiveConnection, obj: dict[str, Any]) -> None:
        await self._send_raw(conn, json.dumps(obj).encode())

    async def _send_raw(self, conn: LiveConnection, data: bytes) -> bool:
        ws = conn.ws
        if ws.closed:
            return False
        transport = ws._req.transport if ws._req is not None else None
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > self.quotas.slow_consumer_bytes:
            return False
        try:
            await ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return False
        return True

    # disconnect -----------------------------------------------------------------------------
    def _schedule_disconnect(self, conn: LiveConnection) -> None:
        if conn.server_close is not None:
            code, reason = conn.server_close
        else:
            code = conn.ws.close_code or 1005
            if code == WSCloseCode.ABNORMAL_CLOSURE:
                code = 1006
            reason = _REASONS.get(code, "")
        if self.metrics is not None:
            self.metrics.inc(
                "websocket_disconnects_total", labels={"code": str(code)}, help="Disconnects"
            )
        route = self.api.routes.get("$disconnect")
        if route is None or route.function is None or self.faults.drop_disconnect:
            return
        event = disconnect_event(
            conn.info,
            status_code=int(code),
            reason=reason,
            rid=request_id(),
            now_ms=time.time_ns() // 1_000_000,
        )
        task = asyncio.create_task(self._invoke_quietly(route.function, event))
        self._disconnects.add(task)
        task.add_done_callback(self._disconnects.discard)

    async def _invoke_quietly(self, function: str, event: dict[str, Any]) -> None:
        try:
            await self.pools[function].invoke(event)
        except Exception:
            log.exception("$disconnect invocation failed")

    # @connections ---------------------------------------------------------------------------
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
        limit = self.quotas.slow_consumer_bytes
        connections = self.connections
        targets: list[asyncio.Transport] = []
        for cid in ids:
            conn = connections.get(cid)
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
            targets.append(transport)
        if targets:
            asyncio.get_running_loop().call_soon(_write_all, _text_frame(data), targets)
        self.stats["gone"] += len(gone)
        self._count_posts({200: len(targets), 410: len(gone), 429: len(failed)})
        return gone, failed

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
        conn = self.connections.get(cid)
        if conn is None:
            return None
        identity: dict[str, Any] = {"sourceIp": conn.info.source_ip}
        if conn.info.user_agent is not None:
            identity["userAgent"] = conn.info.user_agent
        return {
            "connectedAt": _iso(conn.info.connected_at),
            "identity": identity,
            "lastActiveAt": _iso(conn.last_active_ms),
        }

    async def delete(self, cid: str) -> bool:
        conn = self.connections.get(cid)
        if conn is None:
            return False
        await self._close(conn, WSCloseCode.OK, "Connection Closed Normally")
        return True


_HEAD_SHORT = struct.Struct("!BB")
_HEAD_MEDIUM = struct.Struct("!BBH")
_HEAD_LONG = struct.Struct("!BBQ")


def _text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented, uncompressed RFC 6455 text frame (the gateway never
    negotiates compression)."""
    length = len(payload)
    if length < 126:
        return _HEAD_SHORT.pack(0x81, length) + payload
    if length < 65536:
        return _HEAD_MEDIUM.pack(0x81, 126, length) + payload
    return _HEAD_LONG.pack(0x81, 127, length) + payload


def _write_all(frame: bytes, transports: list[asyncio.Transport]) -> None:
    for transport in transports:
        if not transport.is_closing():  # closed since the batch was accepted: as if lost
            transport.write(frame)


def _is_closed(ws: web.WebSocketResponse) -> bool:
    """Re-read after an await: the connection may have closed meanwhile."""
    return ws.closed


def _selection_path(expression: str) -> list[str] | None:
    prefix = "$request.body."
    if not expression.startswith(prefix):
        return None
    return expression[len(prefix) :].split(".")


def _event_headers(request: web.Request) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    peer = request.remote or "127.0.0.1"
    port = request.url.port or (443 if request.secure else 80)
    headers += [
        ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{request_id().replace('-', '')[:24]}"),
        ("X-Forwarded-For", peer),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "https" if request.secure else "http"),
    ]
    return headers


def _status_of(result: InvokeResult) -> int:
    if not result.ok:
        return 500
    payload = result.payload
    if isinstance(payload, dict) and "statusCode" in payload:
        try:
            return int(payload["statusCode"])
        except (TypeError, ValueError):
            return 500
    return 200


def _refusal(verdict: AuthorizerResult) -> web.Response:
    return web.json_response({"message": verdict.message}, status=verdict.status)


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + (
        f".{epoch_ms % 1000:03d}Z"
    )
