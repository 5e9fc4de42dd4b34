"""A hot room over the protocol (issue 18, item 3), on a live ``hubbub serve`` (either store):
a flood into one topic beyond its write ceiling is refused with ``rate_limited`` and
``retryAfter``, and nothing acknowledged is lost: history holds exactly the acknowledged
messages, gapless, and a subscriber receives each of them once, in ``seq`` order.

The senders' own limits are lifted and the room's is set low (``LIMITS``), so that four users
together, not one user alone, run into it, and the refill is slow next to the flood on either
store. The numbers allowed come from the settings the server reads.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from hubbub.chat.settings import ChatSettings
from hubbub.client import HubbubClient
from hubbub.client.connection import ClientError
from tests.conftest import TIMEOUT_FACTOR
from tests.support.server import ServerProcess

Start = Callable[..., ServerProcess]
LIMITS = {
    "SEND_RATE_PER_SECOND": "1000",
    "SEND_BURST": "1000",
    "TOPIC_SEND_RATE_PER_SECOND": "0.5",
    "TOPIC_SEND_BURST": "12",
}
CONFIGURED = ChatSettings.from_env(LIMITS)
SENDERS = 4
SENDS_EACH = 15


async def send(client: HubbubClient, topic: str, cmid: str) -> tuple[str, dict[str, object]]:
    """One send, not retried: ``(cmid, ack)`` or ``(cmid, error frame)``."""
    try:
        ack = await client.request(
            "send", topic=topic, text=f"text of {cmid}", clientMsgId=cmid, timeout=120
        )
    except ClientError as refused:
        return cmid, refused.frame
    return cmid, ack


@pytest.mark.store
async def test_a_flood_into_one_room_is_refused_past_its_ceiling_and_loses_nothing_acked(
    fresh_server: Start, tmp_path: Path
) -> None:
    env_file = tmp_path / "limits.json"
    env_file.write_text(json.dumps({"Parameters": LIMITS}))
    server = fresh_server("--env-vars", str(env_file))
    topic = f"room/hot{uuid.uuid4().hex[:6]}"
    watcher = await HubbubClient.connect(server.ws_url)
    senders = [await HubbubClient.connect(server.ws_url) for _ in range(SENDERS)]
    try:
        await watcher.subscribe(topic)
        for number, sender in enumerate(senders):
            await sender.register(f"sender{number}")
        started = time.monotonic()
        outcomes = dict(
            await asyncio.gather(
                *(send(senders[n % SENDERS], topic, f"c{n}") for n in range(SENDERS * SENDS_EACH))
            )
        )
        elapsed = time.monotonic() - started
        acked = {cmid: f for cmid, f in outcomes.items() if f["type"] == "ack"}
        refused = {cmid: f for cmid, f in outcomes.items() if f["type"] == "error"}
        allowed = CONFIGURED.topic_send_burst + int(CONFIGURED.topic_send_per_s * elapsed) + 1
        assert CONFIGURED.topic_send_burst <= len(acked) <= allowed
        assert {f["code"] for f in refused.values()} == {"rate_limited"}
        assert all(float(str(f["retryAfter"])) > 0 for f in refused.values())
        assert all(topic in str(f["message"]) for f in refused.values())

        # nothing acknowledged is lost, nothing refused is stored
        seqs = sorted(int(str(f["seq"])) for f in acked.values())
        assert seqs == list(range(1, len(acked) + 1))
        history = await watcher.request("history", topic=topic, limit=100)
        assert {m["clientMsgId"]: m["seq"] for m in history["messages"]} == {
            cmid: f["seq"] for cmid, f in acked.items()
        }
        await watcher.wait_for_seq(topic, len(acked), timeout=60 * TIMEOUT_FACTOR)
        assert sorted(watcher.messages[topic]) == seqs
        assert watcher.duplicates == 0

        # once the wait has passed, a refused send resent with its clientMsgId is stored next
        cmid = min(refused, key=lambda c: int(c[1:]))
        wait_ms = int(float(str(refused[cmid]["retryAfter"])) * 1000)
        server.admin("clock", {"offsetMs": wait_ms + 4000})
        resent = await senders[int(cmid[1:]) % SENDERS].request(
            "send", topic=topic, text=f"text of {cmid}", clientMsgId=cmid
        )
        assert resent["seq"] == len(acked) + 1
        assert resent["duplicate"] is False
        await watcher.wait_for_seq(topic, len(acked) + 1, timeout=30 * TIMEOUT_FACTOR)
    finally:
        for client in (watcher, *senders):
            await client.close()
