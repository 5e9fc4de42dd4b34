"""Nothing acknowledged is lost across a ``kill -9`` of the server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hubbub.client import HubbubClient
from tests.support.server import ServerProcess


@pytest.mark.store
async def test_kill_9_after_500_acks_loses_nothing(
    fresh_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    # ten writers fill one room as fast as they can: the room's own send ceiling is lifted, as
    # the benchmarks lift it (tests/e2e/test_hot_rooms.py attacks that ceiling itself)
    env_file = tmp_path / "env.json"
    lifted = {"TOPIC_SEND_RATE_PER_SECOND": "100000", "TOPIC_SEND_BURST": "100000"}
    env_file.write_text(json.dumps({"Parameters": lifted}))
    server = fresh_server("--env-vars", str(env_file))
    topic = "room/durable"
    writers = [await HubbubClient.connect(server.ws_url) for _ in range(10)]
    for n, writer in enumerate(writers):
        await writer.register(f"writer{n}")
    acked: list[int] = []

    async def burst(writer: HubbubClient, start: int) -> None:
        for n in range(start, start + 50):
            ack = await writer.send(topic, f"message {n}", f"d{n}")
            acked.append(int(ack["seq"]))

    await asyncio.gather(*(burst(w, i * 50) for i, w in enumerate(writers)))
    assert len(acked) == 500
    server.kill9()
    for writer in writers:
        await writer.close()

    server.start()
    reader = await HubbubClient.connect(server.ws_url)
    seqs: list[int] = []
    texts: set[str] = set()
    before: int | None = None
    while True:
        fields = {"topic": topic, "limit": 100} | ({} if before is None else {"before": before})
        page = await reader.request("history", **fields)
        seqs = [m["seq"] for m in page["messages"]] + seqs
        texts |= {m["text"] for m in page["messages"]}
        if not page["hasMore"]:
            break
        before = page["messages"][0]["seq"]
    await reader.close()
    assert seqs == sorted(acked) == list(range(1, 501))
    assert texts == {f"message {n}" for n in range(500)}
