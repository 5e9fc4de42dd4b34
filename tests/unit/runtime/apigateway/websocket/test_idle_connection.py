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
def quotas() -> Quotas:
    return Quotas()


@pytest.fixture
async def gateway(quotas: Quotas) -> AsyncIterator[tuple[WebSocketGateway, str]]:
    routes = {
        "$connect": RouteSpec("$connect", "Echo", False),
        "$default": RouteSpec("$default", "Echo", True),
    }
    api = WebSocketApiSpec("Api", "abc123", "$request.body.action", "prod", routes)
    gw = WebSocketGateway(api, {"Echo": cast(FunctionPool, EchoPool())}, quotas, Faults())
    gw.start()
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


@pytest.mark.parametrize("quotas", [Quotas(idle_timeout_s=0.4)])
async def test_frames_posted_to_a_connection_keep_it_from_the_idle_timeout(
    gateway: tuple[WebSocketGateway, str],
) -> None:
    """API Gateway closes a connection after ten minutes without a frame either way; a
    server that posts to a silent client keeps it open (a server-side keep-alive holds one
    until its two hours). Here the idle timeout is 0.4 s: the starved client goes, the fed one
    stays as long as it is posted to, then goes too."""
    gw, url = gateway
    async with ClientSession() as session:
        fed = await session.ws_connect(url)
        (fed_id,) = gw.connections
        starved = await session.ws_connect(url)
        (starved_id,) = set(gw.connections) - {fed_id}
        feeding = asyncio.Event()
        feeding.set()

        async def feed() -> None:
            while feeding.is_set():
                assert await gw.post(fed_id, b'{"type": "keepalive"}') == 200
                await asyncio.sleep(0.1)  # the posts' pace, not a wait

        feeder = asyncio.create_task(feed())
        await eventually(lambda: starved_id not in gw.connections, what="the starved one closed")
        started = asyncio.get_running_loop().time()
        await eventually(
            lambda: (
                asyncio.get_running_loop().time() - started > 1.0 or fed_id not in gw.connections
            ),
            what="a second of feeding",
        )
        assert fed_id in gw.connections, "a connection posted to was closed as idle"
        feeding.clear()
        await feeder
        await eventually(lambda: fed_id not in gw.connections, what="the fed one closed once idle")
        await fed.close()
        await starved.close()
