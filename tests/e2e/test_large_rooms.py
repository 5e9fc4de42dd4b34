"""Large rooms end to end (issue 18): presence that stops growing as N² above the threshold, and
the keepalive a client is told in ``hello.limits``, both on a real ``hubbub serve``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hubbub.client import HubbubClient
from tests.support.server import ServerProcess

Start = Callable[..., ServerProcess]

THRESHOLD = 5
MEMBERS = 12


def queued(client: HubbubClient) -> list[dict[str, object]]:
    """Everything pushed to ``client`` so far (a pong answered after them proves they are in)."""
    frames = []
    while not client.events.empty():
        frames.append(client.events.get_nowait())
    return frames


@pytest.mark.store
async def test_a_room_over_the_threshold_pushes_summaries_not_joined(
    fresh_server: Start, tmp_path: Path
) -> None:
    """With the threshold at 5, twelve members joining send the first member 4 ``joined``
    (members 2 to 5) and then a summary with a count, not eleven ``joined``; a ``presence``
    query answers with the count and a bounded page."""
    env_file = tmp_path / "env.json"
    settings = {"PRESENCE_THRESHOLD": str(THRESHOLD), "PRESENCE_SUMMARY_SECONDS": "60"}
    env_file.write_text(json.dumps({"Parameters": settings}))
    server = fresh_server("--env-vars", str(env_file))
    topic = "room/stadium"
    members: list[HubbubClient] = []
    try:
        for n in range(MEMBERS):
            client = await HubbubClient.connect(server.ws_url)
            members.append(client)
            await client.register(f"fan{n:02d}")
            await client.subscribe(topic)
        first = members[0]
        await first.request("ping")  # after every frame pushed to it before
        frames = [f for f in queued(first) if f.get("type") in ("joined", "left", "presence")]
        joined = [f for f in frames if f["type"] == "joined"]
        summaries = [f for f in frames if f["type"] == "presence"]
        assert [f["user"]["nickname"] for f in joined] == [  # type: ignore[index]
            f"fan{n:02d}" for n in range(1, THRESHOLD)
        ]
        assert summaries == [{"type": "presence", "topic": topic, "count": THRESHOLD + 1}], (
            "one summary in the 60 s window: the first change over the threshold"
        )

        page = await first.request("presence", topic=topic, limit=5)
        assert page["count"] == MEMBERS
        assert page["large"] is True
        assert len(page["members"]) == 5
        assert page["hasMore"] is True
        rest = await first.request("presence", topic=topic, after=page["next"])
        assert len(page["members"]) + len(rest["members"]) == MEMBERS
        assert rest["hasMore"] is False

        # the window is a claim in the store, so a leave after it (by the runtime's clock)
        # pushes the next summary, with the count of that moment
        server.admin("clock", {"offsetMs": 61_000})
        await members.pop().close()
        summary = await first.next_event(lambda f: f.get("type") == "presence", timeout=15)
        assert summary == {"type": "presence", "topic": topic, "count": MEMBERS - 1}
    finally:
        server.admin("clock", {"offsetMs": 0})
        for client in members:
            await client.close()


async def test_hello_says_how_often_to_ping_and_a_client_that_does_stays(
    fresh_server: Start,
) -> None:
    """``--quota idle_timeout_s=4``: hello asks for a ping under 4 s; a client that follows it
    outlives two silent ones, each closed for being idle."""
    server = fresh_server("--quota", "idle_timeout_s=4")
    pinger = await HubbubClient.connect(server.ws_url)
    hello = await pinger.hello()
    interval_ms = hello["limits"]["pingIntervalMs"]
    assert 0 < interval_ms < 4000
    assert pinger.ping_interval_s == interval_ms / 1000
    try:
        for _ in range(2):
            silent = await HubbubClient.connect(server.ws_url)
            await silent.request("ping")
            await asyncio.wait_for(silent.closed.wait(), 20)  # reaped for being idle
            assert not pinger.closed.is_set()
        assert (await pinger.request("ping"))["type"] == "pong"
    finally:
        await pinger.close()


async def test_hello_on_the_default_quota_asks_for_five_minutes(server: ServerProcess) -> None:
    """The runtime's default idle timeout is API Gateway's 10 minutes: a ping every 5."""
    client = await HubbubClient.connect(server.ws_url)
    try:
        hello = await client.hello(keepalive=False)
        assert hello["limits"]["pingIntervalMs"] == 300_000
        assert client.ping_interval_s is None
    finally:
        await client.close()
