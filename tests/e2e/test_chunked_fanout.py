"""A room of 2,000 subscribers on the chunked path (issue 18 item 6), on a real ``hubbub serve``.

With ``FanOutChunkThreshold=500`` the fan-out function hands the room's recipients in chunks to
the push function through the template's SQS FIFO queue (moto) and its event source mapping;
every member must get every message once, in ``seq`` order. One asyncio client process holds
all 2,000 connections (``bench.largeroom.Crowd``); everything is under a deadline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiohttp
import pytest

from bench.largeroom import Crowd, publisher, send, serve_args
from tests.conftest import TIMEOUT_FACTOR
from tests.e2e.conftest import LOAD_SCALE
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

Start = Callable[..., ServerProcess]

MEMBERS = round(2000 * LOAD_SCALE)
"""2,000 on SQLite; on DynamoDB (moto, one request at a time) 400, over a threshold lowered to
100 so that they still take the chunked path."""
THRESHOLD = 500 if MEMBERS > 500 else MEMBERS // 4
MESSAGES = 5


@pytest.mark.store
async def test_a_room_of_two_thousand_gets_every_message_once_in_order(
    fresh_server: Start,
) -> None:
    server = fresh_server(*serve_args(chunked=True, threshold=THRESHOLD))
    url = server.ws_url
    topic = "room/arena"
    async with asyncio.timeout(150 * TIMEOUT_FACTOR):
        async with Crowd(url, topic, MEMBERS) as crowd, aiohttp.ClientSession() as session:
            ws = await publisher(session, url)
            for n in range(1, MESSAGES + 1):  # unpaced: the stream batches them as it will
                await send(ws, topic, n)
            await crowd.wait_for(MESSAGES, 60 * TIMEOUT_FACTOR)
            await eventually(
                lambda: all(len(m.seqs) >= MESSAGES for m in crowd.members),
                timeout=30,
                what="every message at every member",
            )
            # a last frame through the same queue proves nothing else was on its way
            await send(ws, topic, MESSAGES + 1)
            await crowd.wait_for(MESSAGES + 1, 60 * TIMEOUT_FACTOR)
            await ws.close()
            wanted = list(range(1, MESSAGES + 2))
            wrong = [m.seqs for m in crowd.members if m.seqs != wanted]
            assert not wrong, f"{len(wrong)} members got another sequence, e.g. {wrong[0]}"
    stats = server.admin("stats")
    chunks = stats["queues"]["PushChunks"]
    assert chunks["deleted"] > 0, json.dumps(stats["queues"])  # it went through the queue
    assert chunks["failed"] == 0
