"""``$connect`` held to the integration timeout (``runtime.apigateway.websocket.handshake``).

AWS: API Gateway developer guide, *Amazon API Gateway quotas* (WebSocket APIs: integration
timeout 50 ms to 29 s, for every route, ``$connect`` included); the function itself runs on to
its own timeout, as Lambda does not stop an invocation its caller stopped waiting for.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.apigateway.websocket.handshake import invoke_within
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from tests.support.waiting import eventually


class HeldPool:
    """A pool whose invocation ends only when the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.finished = False

    async def invoke(self, event: Any) -> InvokeResult:
        await self.release.wait()
        self.finished = True
        return InvokeResult("r", True, {"statusCode": 200}, 1.0)


async def test_an_answer_within_the_timeout_is_the_result() -> None:
    pool = HeldPool()
    pool.release.set()
    result = await invoke_within(cast(FunctionPool, pool), {}, 1.0)
    assert result is not None and result.payload == {"statusCode": 200}


async def test_past_the_timeout_there_is_no_answer_and_the_function_runs_on() -> None:
    pool = HeldPool()
    assert await invoke_within(cast(FunctionPool, pool), {}, 0.05) is None
    assert not pool.finished
    pool.release.set()
    await eventually(lambda: pool.finished, what="the invocation running on to its end")


def test_the_integration_timeouts_are_awss() -> None:
    """*Amazon API Gateway quotas*: 29 s for WebSocket APIs, 30 s for HTTP APIs."""
    assert Quotas().integration_timeout_s == 29.0
    assert Quotas().http_integration_timeout_s == 30.0
