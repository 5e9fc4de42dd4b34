"""The sender's answer comes before the work its invocation wakes
(``runtime.apigateway.websocket.gateway`` and ``runtime.lambda_.pool``).

An ending invocation wakes the stream pollers (``FunctionPool.on_complete``), which read the
stream and hand a batch to the next function synchronously on the event loop. The route
response to the sender used to wait a turn of the loop behind them, about half a millisecond
at p50 on this machine (docs/benchmarks.md, finding 39). Here a real function pool runs a real
worker; a stand-in poller records when it wakes, and the gateway's write records when the
answer went out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.apigateway.websocket.gateway import WebSocketGateway
from hubbub.runtime.apigateway.websocket.registry import LiveConnection
from hubbub.runtime.cloudformation import RouteSpec, WebSocketApiSpec
from hubbub.runtime.faults import Faults
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from tests.support.waiting import eventually
from tests.unit.fakes import fan_out_spec

HANDLER = """
def echo(event, context):
    if event["requestContext"]["routeKey"] == "$connect":
        return {"statusCode": 200}
    if event.get("body") == "fail":
        raise ValueError("asked to")
    return {"statusCode": 200, "body": event.get("body")}
"""


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[FunctionPool]:
    (tmp_path / "probe.py").write_text(HANDLER)
    spec = replace(fan_out_spec(), handler="probe.echo", code_dir=tmp_path)
    function_pool = FunctionPool(spec, runtime_env={}, max_workers=1, region="us-east-1")
    yield function_pool
    await function_pool.close()


async def test_the_route_response_is_written_before_the_woken_pollers_run(
    pool: FunctionPool,
) -> None:
    routes = {
        "$connect": RouteSpec("$connect", "Echo", False),
        "$default": RouteSpec("$default", "Echo", True),
    }
    api = WebSocketApiSpec("Api", "abc123", "$request.body.action", "prod", routes)
    gateway = WebSocketGateway(api, {"Echo": pool}, Quotas(), Faults())
    order: list[str] = []
    write = gateway._write_now

    def recorded_write(conn: LiveConnection, data: bytes) -> bool:
        order.append(f"answer {data.decode()}")
        return write(conn, data)

    gateway._write_now = recorded_write  # type: ignore[method-assign]
    woken = asyncio.Event()
    pool.on_complete = woken.set

    async def poller() -> None:  # as StreamPoller._run waits for its wake-up
        while True:
            await woken.wait()
            woken.clear()
            order.append("poller")

    app = web.Application()
    app.router.add_get("/prod", gateway.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    stand_in = asyncio.create_task(poller())
    try:
        async with (
            ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{server.port}/prod") as ws,
        ):
            await eventually(lambda: order == ["poller"] or None, what="$connect's wake-up")
            order.clear()
            for text in ("one", "fail", "two"):
                await ws.send_str(text)
                reply = await asyncio.wait_for(ws.receive_str(), 10)
                if text == "fail":
                    assert json.loads(reply)["message"] == "Internal server error"
                else:
                    assert reply == text
            await eventually(lambda: len(order) == 6 or None, what="the last wake-up")
    finally:
        stand_in.cancel()
        await gateway.shutdown(grace_s=1.0)
        await server.close()
    assert [event.split(" ")[0] for event in order] == ["answer", "poller"] * 3
    assert order[0] == "answer one" and order[4] == "answer two"
    error: dict[str, Any] = json.loads(order[2].removeprefix("answer "))
    assert error["message"] == "Internal server error"


class LateFailingPool:
    """Admits every ``$connect``; a frame's invocation ends, when the test lets it, in an error
    of the runtime itself (a dead environment, say), not of the function."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def invoke(self, event: dict[str, Any], **_: Any) -> InvokeResult:
        if event["requestContext"]["routeKey"] == "$connect":
            return InvokeResult("r", True, {"statusCode": 200}, 1.0)
        await self.release.wait()
        raise RuntimeError("the environment went away")


async def test_a_failure_after_the_integration_timeout_is_still_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the timeout the sender has had its answer, so the invocation's end sends nothing;
    but an error it ended in is logged, not left unretrieved in its task."""
    routes = {
        "$connect": RouteSpec("$connect", "Late", False),
        "$default": RouteSpec("$default", "Late", True),
    }
    api = WebSocketApiSpec("Api", "abc123", "$request.body.action", "prod", routes)
    pool = LateFailingPool()
    quotas = Quotas(integration_timeout_s=0.05)
    gateway = WebSocketGateway(api, {"Late": cast(FunctionPool, pool)}, quotas, Faults())
    app = web.Application()
    app.router.add_get("/prod", gateway.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with (
            ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{server.port}/prod") as ws,
        ):
            await ws.send_str("hello")
            reply = json.loads(await asyncio.wait_for(ws.receive_str(), 10))
            assert reply["message"] == "Endpoint request timed out"
            pool.release.set()
            await eventually(
                lambda: any(r.getMessage() == "dispatch failed" for r in caplog.records) or None,
                what="the late failure logged",
            )
    finally:
        await gateway.shutdown(grace_s=1.0)
        await server.close()
