"""What an idle connection keeps in the gateway (``runtime.apigateway.websocket.gateway``).

An idle WebSocket is held for up to API Gateway's two hours, and a server holds thousands: per
connection memory is aiohttp's request and WebSocket state plus the gateway's own. After a frame
is answered nothing of it may stay referenced (the receive loop once kept the last message and
the done task that answered it), and aiohttp's HTTP parser is let go once the upgrade is in.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.apigateway.websocket.gateway import WebSocketGateway
from hubbub.runtime.cloudformation import RouteSpec, WebSocketApiSpec
from hubbub.runtime.faults import Faults
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from tests.support.waiting import eventually


class EchoPool:
    """A function that admits every ``$connect`` and answers every frame with its body."""

    async def invoke(self, event: dict[str, Any], **_: Any) -> InvokeResult:
        body = event.get("body")
        return InvokeResult("r", True, {"statusCode": 200, "body": body}, 1.0)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[WebSocketGateway, str]]:
    routes = {
        "$connect": RouteSpec("$connect", "Echo", False),
        "$default": RouteSpec("$default", "Echo", True),
    }
    api = WebSocketApiSpec("Api", "abc123", "$request.body.action", "prod", routes)
    gw = WebSocketGateway(api, {"Echo": cast(FunctionPool, EchoPool())}, Quotas(), Faults())
    app = web.Application()
    app.router.add_get("/prod", gw.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield gw, f"ws://127.0.0.1:{server.port}/prod"
    finally:
        await gw.shutdown(grace_s=1.0)
        await server.close()


def _dispatch_tasks() -> list[asyncio.Task[Any]]:
    gc.collect()
    return [
        task
        for task in gc.get_objects()
        if isinstance(task, asyncio.Task)
        and getattr(task.get_coro(), "__qualname__", "") == "WebSocketGateway._dispatch"
    ]


async def test_an_answered_frame_leaves_nothing_behind(
    gateway: tuple[WebSocketGateway, str],
) -> None:
    gw, url = gateway
    async with ClientSession() as session, session.ws_connect(url) as ws:
        frame = json.dumps({"action": "ping", "payload": "x" * 1000})
        await ws.send_str(frame)
        assert await asyncio.wait_for(ws.receive_str(), 10) == frame
        (conn,) = gw.connections.values()
        await eventually(lambda: not conn.tasks, what="the dispatch task finished")
        assert _dispatch_tasks() == [], "the task that answered the last frame is referenced"
        assert set(conn.info.headers) <= {"Host"}, "only what $disconnect reads is kept"


async def test_the_http_parser_is_let_go_after_the_upgrade(
    gateway: tuple[WebSocketGateway, str],
) -> None:
    gw, url = gateway
    async with ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str('{"action": "ping"}')
        assert await asyncio.wait_for(ws.receive_str(), 10) == '{"action": "ping"}'
        (conn,) = gw.connections.values()
        protocol: Any = conn.ws._req.protocol if conn.ws._req is not None else None
        assert protocol is not None
        assert protocol._parser is None
        assert protocol._payload_parser is not None  # frames are still parsed
