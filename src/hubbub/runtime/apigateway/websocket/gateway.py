"""One WebSocket API on the runtime's server: accepts connections, hands each frame to a Lambda
worker through the function pool, answers route responses, closes idle and old connections, and
invokes ``$disconnect``.

One aiohttp handler per connection reads frames; the event loop never runs handler code. Who
may connect is :mod:`admission`, the handshake :mod:`handshake`, route selection :mod:`routing`,
and the open connections with their ``@connections`` delivery :mod:`registry`, which this class
extends.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from hubbub.runtime.apigateway.events import disconnect_event, message_event
from hubbub.runtime.apigateway.quotas import Quotas, integration_wait_s
from hubbub.runtime.apigateway.websocket.admission import Admission, AdmissionLimits
from hubbub.runtime.apigateway.websocket.handshake import connect, open_socket
from hubbub.runtime.apigateway.websocket.registry import ConnectionRegistry, LiveConnection
from hubbub.runtime.apigateway.websocket.replies import reply_text
from hubbub.runtime.apigateway.websocket.routing import compile_expression, select_route
from hubbub.runtime.awsids import connection_id, extended_request_id
from hubbub.runtime.cloudformation import RouteSpec, WebSocketApiSpec
from hubbub.runtime.faults import Faults
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = ["WebSocketGateway", "account_admission"]

log = logging.getLogger("hubbub.gateway")

_REASONS = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection closed abnormally",
    1009: "Message too big",
}
"""``disconnectReason`` for the close codes API Gateway reports."""

BINARY_CLOSE = (1003, "Binary frames are not supported")
"""API Gateway rejects a binary frame and disconnects the client with code 1003 (*Binary media
types for WebSocket APIs*); the reason text is not documented, so this one is the runtime's."""


@dataclass(slots=True, eq=False)
class _Answer:
    """Who an invocation's answer goes to; ``expired`` once the integration timeout answered."""

    conn: LiveConnection
    route: RouteSpec
    rid: str
    expired: bool = False


class _After(enum.Enum):
    """What the receive loop does after a message."""

    NEXT = enum.auto()
    REFUSE_BINARY = enum.auto()
    END = enum.auto()


def account_admission(quotas: Quotas) -> Admission:
    """The admission state of the account: one for all the WebSocket APIs a runtime serves."""
    return Admission(
        AdmissionLimits(
            account_per_s=quotas.new_connections_per_s,
            address_per_s=quotas.new_connections_per_address_per_s,
            connections_per_address=quotas.connections_per_address,
        )
    )


class WebSocketGateway(ConnectionRegistry):
    def __init__(
        self,
        api: WebSocketApiSpec,
        pools: dict[str, FunctionPool],
        quotas: Quotas,
        faults: Faults,
        admission: Admission | None = None,
    ) -> None:
        """``admission``: the account's, shared by every WebSocket API of the runtime (500
        new connections a second per account and region, not per API); one of its own when
        not given."""
        super().__init__(quotas, faults)
        self.api = api
        self.pools = pools
        self._selection = compile_expression(api.selection_expression)
        self._reaper: asyncio.Task[None] | None = None
        self._disconnects: set[asyncio.Task[None]] = set()
        self.admission = admission or account_admission(quotas)
        self._draining = False

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
        """API Gateway's idle timeout and maximum connection duration. A connection is idle
        when no frame went either way: frames posted to it count, as a server's own keep-alive
        holds a connection open on AWS until its two hours are up."""
        period = max(0.05, min(1.0, self.quotas.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                last = max(conn.last_active, conn.last_sent)
                if now - last > self.quotas.idle_timeout_s or (
                    now - conn.opened > self.quotas.max_connection_s
                ):
                    await self._close(conn, WSCloseCode.GOING_AWAY, "Going away")

    # handshake ------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=426, text="This is a WebSocket endpoint.\n")
        if self._draining:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        address = request.remote or "127.0.0.1"
        verdict = self.admission.admit(address, time.monotonic())
        if not verdict.admitted:
            if self.metrics is not None:
                self.metrics.inc(
                    "websocket_handshakes_throttled_total",
                    labels={"limit": verdict.name.lower()},
                    help="Upgrade requests refused with 429, by the limit they hit",
                )
            return web.json_response({"message": "Too Many Requests"}, status=429)
        try:
            return await self._open(request)
        finally:
            self.admission.release(address)

    async def _open(self, request: web.Request) -> web.StreamResponse:
        """An admitted upgrade: ``$connect``, then the connection until it closes."""
        now_ms = time.time_ns() // 1_000_000
        info, refusal, subprotocol = await connect(
            self.api, self.pools, self.quotas, request, now_ms
        )
        if refusal is not None:
            return refusal
        cid = info.connection_id
        ws = open_socket(self.quotas, subprotocol)
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
            # the frames until the connection closes, read here rather than in a coroutine of
            # their own (one frame object fewer per idle connection); nothing of a frame is a
            # local of this long-lived frame: the last message and the done task that
            # answered it were kept alive for as long as the connection stayed open
            while True:
                await conn.in_flight.acquire()
                after = self._on_message(conn, await ws.receive())
                if after is _After.END:
                    break
                if after is _After.REFUSE_BINARY:
                    await self._close(conn, *BINARY_CLOSE)
        finally:
            self.connections.pop(cid, None)
            self._gauge_connections()
            if conn.tasks:
                await asyncio.wait(set(conn.tasks))
            self._schedule_disconnect(conn)
        return ws

    # frames ---------------------------------------------------------------------------------
    def _on_message(self, conn: LiveConnection, msg: WSMessage) -> _After:
        """Start answering a text frame; what the receive loop does next."""
        if msg.type is WSMsgType.TEXT and self._draining:
            conn.in_flight.release()  # shutting down: frames from now on are not taken
            return _After.NEXT
        if msg.type is WSMsgType.BINARY:
            conn.in_flight.release()
            return _After.REFUSE_BINARY
        if msg.type is WSMsgType.TEXT:
            conn.last_active = time.monotonic()
            conn.last_active_ms = time.time_ns() // 1_000_000
            self.stats["messages_in"] += 1
            if self.metrics is not None:
                self.metrics.inc("websocket_frames_in_total", help="Frames received")
            route_key = select_route(self._selection, self.api.routes, msg.data)
            task = asyncio.create_task(self._dispatch(conn, route_key, msg.data))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)
            return _After.NEXT
        conn.in_flight.release()
        if (
            msg.type is WSMsgType.ERROR
            and isinstance(msg.data, WebSocketError)
            and conn.server_close is None
        ):
            code = int(msg.data.code)
            conn.server_close = (code, _REASONS.get(code, str(msg.data)))
        return _After.END

    async def _dispatch(self, conn: LiveConnection, route_key: str, body: str) -> None:
        try:
            route = self.api.routes.get(route_key)
            cid = conn.info.connection_id
            rid = extended_request_id()
            if route is None or route.function is None:
                await self._send_text(
                    conn, {"message": "Forbidden", "connectionId": cid, "requestId": rid}
                )
                return
            event = message_event(
                conn.info,
                route_key=route_key,
                body=body,
                is_base64=False,
                message_id=connection_id(),
                rid=rid,
                now_ms=time.time_ns() // 1_000_000,
            )
            pool = self.pools[route.function]
            invocation = asyncio.create_task(
                pool.invoke(event, kill_after=self.faults.kill_after_invoke)
            )
            answer = _Answer(conn, route, rid)
            invocation.add_done_callback(functools.partial(self._answer, answer))
            if self.faults.duplicate_invocations:
                duplicate = asyncio.create_task(pool.invoke(event))
                conn.tasks.add(duplicate)
                duplicate.add_done_callback(conn.tasks.discard)
            timeout_s = integration_wait_s(self.quotas.integration_timeout_s, route.timeout_s)
            done, _ = await asyncio.wait({invocation}, timeout=timeout_s)
            if not done:
                answer.expired = True  # the function runs on; its answer is not sent
                await self._send_text(
                    conn,
                    {
                        "message": "Endpoint request timed out",
                        "connectionId": cid,
                        "requestId": rid,
                    },
                )
        except Exception:
            log.exception("dispatch failed")
        finally:
            conn.in_flight.release()

    def _answer(self, answer: _Answer, invocation: asyncio.Task[InvokeResult]) -> None:
        """Send what the invocation's end calls for, in the first callback after it: the stream
        pollers that the ending invocation wakes (``FunctionPool.on_complete``, a callback
        later) would otherwise run their reads and hand-offs first, and the sender's answer
        waited for them (docs/benchmarks.md, finding 39)."""
        if invocation.cancelled():
            return
        failure = invocation.exception()  # retrieved even when expired, so none goes unseen
        if failure is not None:
            log.error("dispatch failed", exc_info=failure)
            return
        if answer.expired:
            return
        result = invocation.result()
        conn = answer.conn
        if not result.ok:
            error = {
                "message": "Internal server error",
                "connectionId": conn.info.connection_id,
                "requestId": answer.rid,
            }
            self._write_now(conn, json.dumps(error).encode())
        elif answer.route.has_route_response:
            text = reply_text(result.payload)
            if text is not None:
                self._write_now(conn, text.encode())

    async def _send_text(self, conn: LiveConnection, obj: dict[str, Any]) -> None:
        await self._send_raw(conn, json.dumps(obj).encode())

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
            rid=extended_request_id(),
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
