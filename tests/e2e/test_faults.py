"""Each injected fault, and the promise that holds through it: nothing acknowledged is lost,
nothing is shown twice, gone connections are cleaned up, the server stays healthy."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hubbub.client import ClientError, HubbubClient
from tests.support.moto import MotoEndpoint
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

Start = Callable[..., ServerProcess]


async def pair(server: ServerProcess, topic: str) -> tuple[HubbubClient, HubbubClient]:
    """A registered sender and a subscribed watcher."""
    sender = await HubbubClient.connect(server.ws_url)
    await sender.register("sender")
    watcher = await HubbubClient.connect(server.ws_url)
    await watcher.register("watcher")
    await watcher.subscribe(topic)
    return sender, watcher


@pytest.mark.store
async def test_duplicate_route_invocations_store_and_show_each_message_once(
    fresh_server: Start,
) -> None:
    server = fresh_server("--fault", "duplicate_invocations=true")
    sender, watcher = await pair(server, "room/dup")
    acks = [await sender.send("room/dup", f"m{n}", f"dup{n}") for n in range(5)]
    assert [a["seq"] for a in acks] == [1, 2, 3, 4, 5]
    await watcher.wait_for_messages("room/dup", 5)
    history = await sender.request("history", topic="room/dup")
    assert [m["text"] for m in history["messages"]] == [f"m{n}" for n in range(5)]
    stats = server.admin("stats")["functions"]["MessageFunction"]
    assert stats["invocations"] >= 2 * (5 + 3)  # every frame really ran twice
    await sender.close()
    await watcher.close()


@pytest.mark.store
async def test_duplicate_stream_batches_are_shown_once(fresh_server: Start) -> None:
    server = fresh_server("--fault", "duplicate_stream_batches=true")
    sender, watcher = await pair(server, "room/twice")
    for n in range(5):
        await sender.send("room/twice", f"m{n}")
    await watcher.wait_for_messages("room/twice", 5)
    await eventually(lambda: watcher.duplicates >= 5, what="the repeated pushes")
    assert sorted(watcher.messages["room/twice"]) == [1, 2, 3, 4, 5]
    await sender.close()
    await watcher.close()


@pytest.mark.store
async def test_a_worker_dying_after_its_write_loses_nothing_on_retry(fresh_server: Start) -> None:
    server = fresh_server()
    sender, watcher = await pair(server, "room/crash")
    server.admin("faults", {"kill_after_invoke": True})
    # API Gateway's error frame carries no ref: the client sees its request time out
    with pytest.raises(TimeoutError):
        await sender.request(
            "send", topic="room/crash", text="did it land?", clientMsgId="crash-1", timeout=3
        )
    failed = await sender.next_event(lambda f: "message" in f and "type" not in f)
    assert failed["message"] == "Internal server error"
    server.admin("faults", {"kill_after_invoke": False})
    retry = await sender.send("room/crash", "did it land?", "crash-1")
    assert retry["duplicate"] is True
    await watcher.wait_for_seq("room/crash", retry["seq"])
    assert sorted(watcher.messages["room/crash"]) == [1]
    await sender.close()
    await watcher.close()


async def test_gone_connections_are_forgotten_and_leave_presence(fresh_server: Start) -> None:
    """$disconnect never arrives; the first 410 from @connections cleans the connection up."""
    server = fresh_server("--fault", "drop_disconnect=true")
    topic = "room/ghost"
    stays = await HubbubClient.connect(server.ws_url)
    await stays.register("stays")
    await stays.subscribe(topic)
    ghost = await HubbubClient.connect(server.ws_url)
    ghost_id = (await ghost.register("ghost"))["user"]["id"]
    await ghost.subscribe(topic)
    await stays.next_event(lambda f: f.get("type") == "joined")
    await ghost.close()  # no $disconnect: the store still lists the ghost
    members = (await stays.request("presence", topic=topic))["members"]
    assert ghost_id in {m["id"] for m in members}

    ack = await stays.send(topic, "anyone there?")  # the fan-out meets the 410
    await stays.wait_for_seq(topic, ack["seq"])
    left = await stays.next_event(lambda f: f.get("type") == "left")
    assert left["user"]["id"] == ghost_id
    members = (await stays.request("presence", topic=topic))["members"]
    assert ghost_id not in {m["id"] for m in members}
    await stays.close()


@pytest.mark.store
async def test_410_from_every_post_forgets_and_keeps_the_messages(fresh_server: Start) -> None:
    server = fresh_server()
    sender, watcher = await pair(server, "room/gone")
    server.admin("faults", {"post_status": 410})
    ack = await sender.send("room/gone", "into the void")
    stats = await eventually(
        lambda: s if (s := server.admin("stats"))["streams"] else None, what="stats"
    )
    assert stats
    await eventually(
        lambda: (
            not (server.data_dir / "local-ChatTable.sqlite3").exists()
            or _subscriptions(server.data_dir) == 0
        ),
        what="the gone subscriptions forgotten",
    )
    server.admin("faults", {"post_status": None})
    history = await sender.request("history", topic="room/gone")
    assert [m["seq"] for m in history["messages"]] == [ack["seq"]]
    await sender.close()
    await watcher.close()


def _subscriptions(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "local-ChatTable.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM subscriptions").fetchone()[0])


@contextmanager
def stalled_store(server: ServerProcess, dynamodb: MotoEndpoint | None) -> Iterator[None]:
    """The store stops answering: SQLite's file is locked, or the DynamoDB endpoint is stopped."""
    if dynamodb is not None:
        with dynamodb.stalled():
            yield
        return
    lock = sqlite3.connect(server.data_dir / "local-ChatTable.sqlite3", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        lock.execute("ROLLBACK")
        lock.close()


@pytest.mark.store
async def test_a_stalled_store_answers_unavailable_and_loses_nothing(
    fresh_server: Start, tmp_path: Path, dynamodb: MotoEndpoint | None
) -> None:
    env_file = tmp_path / "env.json"
    short_waits = {
        "SQLITE_BUSY_TIMEOUT_MS": "200",
        "DYNAMODB_READ_TIMEOUT_SECONDS": "0.5",
        "DYNAMODB_MAX_ATTEMPTS": "1",
    }
    env_file.write_text(json.dumps({"Parameters": short_waits}))
    server = fresh_server("--env-vars", str(env_file))
    sender, watcher = await pair(server, "room/locked")
    with stalled_store(server, dynamodb):
        with pytest.raises(ClientError) as busy:
            await sender.request("send", topic="room/locked", text="wait", clientMsgId="lk1")
        assert busy.value.code == "unavailable"
        assert busy.value.frame["retryAfter"] > 0
        # SQLite readers go on under a writer's lock (WAL); every DynamoDB request waits
        if dynamodb is None:
            assert (await sender.request("ping"))["type"] == "pong"
        else:
            with pytest.raises(ClientError) as also_busy:
                await sender.request("ping")
            assert also_busy.value.code == "unavailable"
    assert (await sender.request("ping"))["type"] == "pong"
    ack = await sender.send("room/locked", "wait", "lk1")
    # A DynamoDB request that timed out may still be served once the endpoint wakes (its outcome
    # was unknown, as on AWS): then the resend is the duplicate. Either way, one message.
    assert ack["seq"] == 1
    assert ack["duplicate"] is (dynamodb is not None and ack["duplicate"])
    await watcher.wait_for_seq("room/locked", 1)
    history = await sender.request("history", topic="room/locked")
    assert [m["text"] for m in history["messages"]] == ["wait"]
    await sender.close()
    await watcher.close()


async def test_rate_limited_sends_say_when_to_retry(fresh_server: Start, tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps({"Parameters": {"SEND_RATE_PER_SECOND": "1", "SEND_BURST": "3"}})
    )
    server = fresh_server("--env-vars", str(env_file), "--workers", "1")
    sender = await HubbubClient.connect(server.ws_url)
    await sender.register("flooder")
    codes = []
    waits = []
    for n in range(6):
        try:
            await sender.request("send", topic="room/flood", text="x", clientMsgId=f"f{n}")
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.code)
            waits.append(exc.frame["retryAfter"])
    assert all(w > 0 for w in waits)
    assert codes[:3] == ["ok", "ok", "ok"]
    assert "rate_limited" in codes[3:]
    assert (await sender.request("ping"))["type"] == "pong", "the connection is still usable"
    await sender.close()
