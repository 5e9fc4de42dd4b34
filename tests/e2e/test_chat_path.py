"""The core chat path through a real ``hubbub serve``: subscribe, send, ack, fan-out, history."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest

from hubbub.client import ClientError, HubbubClient
from tests.e2e.conftest import LOAD_SCALE, Connect, StoreArgs
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, store_args: StoreArgs
) -> Iterator[ServerProcess]:
    """The module's server, with the send limits (per user and per room) lifted as the
    benchmarks lift them: the
    load test below has each user fire 100 sends at once on purpose, far past the limit's
    burst (tests/e2e/test_abuse.py attacks the limit itself)."""
    work = tmp_path_factory.mktemp("serve")
    env_file = work / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {
                    "SEND_RATE_PER_SECOND": "100000",
                    "SEND_BURST": "100000",
                    "TOPIC_SEND_RATE_PER_SECOND": "100000",
                    "TOPIC_SEND_BURST": "100000",
                }
            }
        )
    )
    proc = ServerProcess(work / "data", *store_args(), "--env-vars", str(env_file)).start()
    yield proc
    proc.stop()


def room() -> str:
    return f"room/t{uuid.uuid4().hex[:10]}"


async def registered(connect: Connect, nickname: str) -> HubbubClient:
    client = await connect()
    await client.register(nickname)
    return client


async def test_two_clients_chat_in_a_room(connect: Connect) -> None:
    """Two real WebSocket clients see each other's messages in room/lobby."""
    alice = await registered(connect, "alice")
    bob = await registered(connect, "bob")
    topic = "room/lobby"
    await alice.subscribe(topic)
    await bob.subscribe(topic)

    ack = await alice.send(topic, "hello bob")
    assert ack["type"] == "ack" and ack["duplicate"] is False
    got = await bob.wait_for_seq(topic, ack["seq"])
    assert (got["text"], got["nickname"], got["id"]) == ("hello bob", "alice", ack["id"])

    reply = await bob.send(topic, "hi alice")
    echoed = await alice.wait_for_seq(topic, reply["seq"])
    assert (echoed["text"], echoed["nickname"]) == ("hi alice", "bob")


@pytest.mark.store
async def test_every_subscriber_gets_every_message_once_in_order(connect: Connect) -> None:
    """10 senders x 100 messages, 20 subscribers: all 1,000 once each, seq gapless and in order."""
    per_sender = int(100 * LOAD_SCALE)
    total = 10 * per_sender
    topic = room()
    subscribers = [await connect() for _ in range(20)]
    await asyncio.gather(*(s.subscribe(topic) for s in subscribers))
    order: list[list[int]] = [[] for _ in subscribers]

    async def record(index: int, client: HubbubClient) -> None:
        while len(order[index]) < total:
            frame = await client.next_event(lambda f: f.get("type") == "message", timeout=60)
            if frame["topic"] == topic:
                order[index].append(int(frame["seq"]))

    recorders = [asyncio.create_task(record(i, c)) for i, c in enumerate(subscribers)]
    senders = [await registered(connect, f"sender{i}") for i in range(10)]

    async def burst(client: HubbubClient, index: int) -> list[int]:
        acks = await asyncio.gather(
            *(client.send(topic, f"s{index}-m{n}", f"s{index}-{n}") for n in range(per_sender))
        )
        return [int(a["seq"]) for a in acks]

    seqs = sorted(
        s
        for acks in await asyncio.gather(*(burst(c, i) for i, c in enumerate(senders)))
        for s in acks
    )
    assert seqs == list(range(1, total + 1)), "per-topic seq must be gapless"
    await asyncio.wait_for(asyncio.gather(*recorders), timeout=120)
    for received in order:
        assert received == list(range(1, total + 1))


async def test_resend_is_acknowledged_as_duplicate_and_not_delivered_again(
    connect: Connect,
) -> None:
    topic = room()
    sender = await registered(connect, "resender")
    watcher = await connect()
    await watcher.subscribe(topic)

    first = await sender.send(topic, "once", "same-id")
    again = await sender.send(topic, "once", "same-id")
    assert again["duplicate"] is True
    assert (again["id"], again["seq"], again["ts"]) == (first["id"], first["seq"], first["ts"])

    marker = await sender.send(topic, "after", "next-id")
    await watcher.wait_for_messages(topic, 2)
    assert sorted(watcher.messages[topic]) == [first["seq"], marker["seq"]]
    assert watcher.duplicates == 0


@pytest.mark.store
async def test_concurrent_distinct_sends_are_all_stored(connect: Connect) -> None:
    """Two writers racing for the same topic head: both messages land, seqs 1 and 2."""
    topic = room()
    a = await registered(connect, "racer-a")
    b = await registered(connect, "racer-b")
    acks = await asyncio.gather(*(c.send(topic, "go", f"id{i}") for i in range(10) for c in (a, b)))
    assert sorted(int(x["seq"]) for x in acks) == list(range(1, 21))
    history = await a.request("history", topic=topic, limit=100)
    assert [m["seq"] for m in history["messages"]] == list(range(1, 21))


@pytest.mark.store
async def test_history_pages_both_directions(connect: Connect) -> None:
    topic = room()
    client = await registered(connect, "historian")
    for n in range(25):
        await client.send(topic, f"m{n}", f"h{n}")
    newest = await client.request("history", topic=topic, limit=10)
    assert [m["seq"] for m in newest["messages"]] == list(range(16, 26))
    assert newest["hasMore"] is True
    older = await client.request("history", topic=topic, before=16, limit=10)
    assert [m["seq"] for m in older["messages"]] == list(range(6, 16))
    oldest = await client.request("history", topic=topic, before=6, limit=10)
    assert [m["seq"] for m in oldest["messages"]] == [1, 2, 3, 4, 5]
    assert oldest["hasMore"] is False
    forward = await client.request("history", topic=topic, after=20, limit=10)
    assert [m["seq"] for m in forward["messages"]] == [21, 22, 23, 24, 25]
    assert forward["hasMore"] is False


@pytest.mark.store
async def test_subscribe_since_returns_what_was_missed(connect: Connect) -> None:
    topic = room()
    client = await registered(connect, "catcher")
    for n in range(5):
        await client.send(topic, f"m{n}", f"c{n}")
    late = await connect()
    reply = await late.subscribe(topic, since=2)
    assert reply["lastSeq"] == 5
    assert [m["seq"] for m in reply["messages"]] == [3, 4, 5]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "bad_request"),
        ("[1, 2, 3]", "bad_request"),
        ('{"no": "action"}', "bad_request"),
        ('{"action": 7}', "bad_request"),
        ('{"action": "launch"}', "unknown_action"),
        ('{"action": "send", "topic": "room/x"}', "bad_request"),
        ('{"action": "send", "topic": "room/x", "text": "t", "clientMsgId": 5}', "bad_request"),
        ('{"action": "subscribe", "topic": "room/a/b/#/c"}', "bad_request"),
        ('{"action": "subscribe", "topic": "elsewhere/x"}', "forbidden"),
        ('{"action": "history", "topic": ""}', "bad_request"),
    ],
)
async def test_malformed_frames_get_typed_errors_and_the_connection_lives(
    connect: Connect, frame: str, code: str
) -> None:
    client = await connect()
    await client.send_raw(frame)
    error = await client.next_event(lambda f: f.get("type") == "error")
    assert error["code"] == code
    pong = await client.request("ping")
    assert pong["type"] == "pong"


async def test_errors_echo_the_ref_and_action(connect: Connect) -> None:
    """A frame the server can't take answers with its own ``ref`` and ``action``; a topic that
    is no topic is refused before anything asks who the sender is."""
    client = await connect()
    with pytest.raises(ClientError) as caught:
        await client.request("send", topic="room/a/b/c", text="hi", clientMsgId="x")
    assert caught.value.code == "bad_request"
    assert caught.value.frame["action"] == "send"


async def test_a_guest_cannot_send(connect: Connect) -> None:
    guest = await connect()
    with pytest.raises(ClientError) as caught:
        await guest.send(room(), "hello")
    assert caught.value.code == "forbidden"
