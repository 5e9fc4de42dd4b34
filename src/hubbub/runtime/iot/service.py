"""IoT Core's message broker as a service of the local runtime, for every template (IoT Core
exists in every account): the TCP listener, the ``/mqtt`` WebSocket route, and the sweep of
expired persistent sessions.

Locally, with no authorizer in the template, every client may connect (``hooks.OpenDoor``); on
AWS a device needs an X.509 certificate, SigV4 or a custom authorizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping

from aiohttp import web

from hubbub.runtime.cloudformation.specs import AppSpec
from hubbub.runtime.faults import Faults
from hubbub.runtime.iot.broker import Broker
from hubbub.runtime.iot.connection import Connection, Transport
from hubbub.runtime.iot.lifecycle import LifecyclePublisher
from hubbub.runtime.iot.quotas import IotQuotas
from hubbub.runtime.iot.transports import WEBSOCKET_PATH, TcpTransport, WebSocketTransport
from hubbub.runtime.iot.wiring import Pool, dataplane_env, wire_iot

__all__ = ["WEBSOCKET_PATH", "IotCore"]

log = logging.getLogger("hubbub.runtime.iot")


class IotCore:
    def __init__(self, quotas: IotQuotas | None = None, faults: Faults | None = None) -> None:
        self.broker = Broker(quotas)
        duplicated = (
            (lambda: False) if faults is None else (lambda: faults.duplicate_lifecycle_events)
        )
        self.broker.hooks.lifecycle = LifecyclePublisher(self.broker, duplicated)
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_get(WEBSOCKET_PATH, self.handle_websocket)

    def plug(
        self,
        app: web.Application,
        spec: AppSpec,
        pools: Mapping[str, Pool],
        secrets: Mapping[str, str],
    ) -> None:
        """The template's authorizers and rules into the hooks; ``iot-data`` on ``app``."""
        wire_iot(self, app, spec, pools, secrets)

    @staticmethod
    def function_env(base_url: str) -> dict[str, str]:
        return dataplane_env(base_url)

    async def start(self, tcp_socket: socket.socket) -> None:
        tcp_socket.listen(128)
        tcp_socket.setblocking(False)
        self._server = await asyncio.start_server(self._on_tcp, sock=tcp_socket)
        self._sweeper = asyncio.create_task(self.broker.sweep())

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._run(TcpTransport(reader, writer))

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            protocols=("mqtt",),
            max_msg_size=self.broker.quotas.max_packet_bytes + 64 * 1024,
            autoping=True,
        )
        await ws.prepare(request)
        await self._run(WebSocketTransport(request, ws))
        return ws

    async def _run(self, transport: Transport) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await Connection(self.broker, transport).run()
        finally:
            self._tasks.discard(task)

    async def stop(self) -> None:
        self.broker.shutdown()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        pending = list(self._tasks)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=5.0)
            for task in late:
                task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
