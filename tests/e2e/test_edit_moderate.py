"""Edit, delete and moderation through a real ``hubbub serve`` (issue 19, items 1 and 2).

The pushes of ``edited`` and ``deleted`` come from the stream: the store's MODIFY of the message
item, read by the runtime's poller (through the SQLite outbox, or DynamoDB Streams with
``HUBBUB_E2E_STORE=dynamodb``), past the mapping's FilterCriteria, into the fan-out function.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hubbub.client import ClientError, HubbubClient
from tests.e2e.conftest import Connect
from tests.e2e.test_product import add_operator
from tests.e2e.test_rest import rest
from tests.support.server import ServerProcess


def room() -> str:
    return f"room/e{uuid.uuid4().hex[:10]}"


async def registered(connect: Connect, nickname: str) -> tuple[HubbubClient, dict[str, Any]]:
    client = await connect()
    welcome = await client.register(nickname)
    return client, welcome


async def refused(client: HubbubClient, action: str, **fields: Any) -> str:
    with pytest.raises(ClientError) as caught:
        await client.request(action, **fields)
    return str(caught.value.frame["code"])


async def pushed(client: HubbubClient, kind: str, topic: str) -> dict[str, Any]:
    return await client.next_event(
        lambda f: f.get("type") == kind and f.get("topic") == topic, timeout=15
    )


@pytest.mark.store
async def test_edit_and_delete_are_pushed_through_the_stream(connect: Connect) -> None:
    topic = room()
    author, _ = await registered(connect, "author")
    watcher = await connect()
    await watcher.subscribe(topic)
    ack = await author.send(topic, "helo")
    await watcher.wait_for_seq(topic, ack["seq"])

    edited = await author.request("edit", topic=topic, id=ack["id"], text="hello")
    assert (edited["type"], edited["text"], edited["seq"]) == ("edited", "hello", ack["seq"])
    seen = await pushed(watcher, "edited", topic)
    assert seen == {k: v for k, v in edited.items() if k != "ref"}
    again = await author.request("edit", topic=topic, id=ack["id"], text="hello")
    assert again["editedAt"] == edited["editedAt"]

    deleted = await author.request("delete", topic=topic, id=ack["id"])
    assert deleted["type"] == "deleted"
    seen = await pushed(watcher, "deleted", topic)
    assert (seen["id"], seen["seq"]) == (ack["id"], ack["seq"])
    twice = await author.request("delete", topic=topic, id=ack["id"])
    assert twice["seq"] == deleted["seq"]

    marker = await author.send(topic, "after")
    await watcher.wait_for_seq(topic, marker["seq"])
    late = [f for f in await drain(watcher) if f.get("type") in ("edited", "deleted")]
    assert late == [], "the repeats pushed nothing"
    history = await watcher.request("history", topic=topic)
    assert history["messages"][0] == {
        "topic": topic,
        "id": ack["id"],
        "seq": ack["seq"],
        "ts": ack["ts"],
        "deleted": True,
    }
    assert [m["seq"] for m in history["messages"]] == [1, 2]


async def drain(client: HubbubClient) -> list[dict[str, Any]]:
    frames = []
    while not client.events.empty():
        frames.append(client.events.get_nowait())
    return frames


@pytest.mark.store
async def test_edit_and_delete_refusals(connect: Connect, server: ServerProcess) -> None:
    topic = room()
    author, _ = await registered(connect, "author")
    other, _ = await registered(connect, "other")
    guest = await connect()
    ack = await author.send(topic, "mine")
    assert await refused(other, "edit", topic=topic, id=ack["id"], text="x") == "forbidden"
    assert await refused(other, "delete", topic=topic, id=ack["id"]) == "forbidden"
    assert await refused(guest, "edit", topic=topic, id=ack["id"], text="x") == "forbidden"
    assert await refused(author, "edit", topic=topic, id=ack["id"] + "9", text="x") == "not_found"
    assert await refused(author, "delete", topic=room(), id=ack["id"]) == "not_found"
    assert await refused(author, "edit", topic=topic, id=ack["id"], text="") == "bad_request"
    operator = await connect(token=add_operator(server, f"mod{uuid.uuid4().hex[:6]}"))
    assert await refused(operator, "edit", topic=topic, id=ack["id"], text="x") == "forbidden"
    removed = await operator.request("delete", topic=topic, id=ack["id"])
    assert removed["type"] == "deleted"
    assert await refused(author, "edit", topic=topic, id=ack["id"], text="x") == "not_found"


@pytest.mark.store
async def test_edit_and_delete_over_rest(connect: Connect, server: ServerProcess) -> None:
    topic = room()
    author, welcome = await registered(connect, "rester")
    _, stranger = await registered(connect, "stranger")
    watcher = await connect()
    await watcher.subscribe(topic)
    ack = await author.send(topic, "typo")
    mine = {"Authorization": f"Bearer {welcome['token']}"}
    theirs = {"Authorization": f"Bearer {stranger['token']}"}
    path = f"/api/messages/{ack['id']}"

    status, body = await rest(server, "PATCH", path, {"topic": topic, "text": "fixed"}, mine)
    assert status == 200 and body["text"] == "fixed" and body["seq"] == ack["seq"]
    assert (await pushed(watcher, "edited", topic))["text"] == "fixed"
    status, body = await rest(server, "PATCH", path, {"topic": topic, "text": "x"}, theirs)
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await rest(server, "PATCH", path, {"topic": topic, "text": "x"})
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await rest(server, "DELETE", f"{path}?topic={topic}", headers=theirs)
    assert (status, body["code"]) == (403, "forbidden")
    status, body = await rest(server, "DELETE", f"{path}0?topic={topic}", headers=mine)
    assert (status, body["code"]) == (404, "not_found")
    status, body = await rest(server, "DELETE", path, headers=mine)
    assert status == 422, "the topic is required"

    status, body = await rest(server, "DELETE", f"{path}?topic={topic}", headers=mine)
    assert status == 200 and body["id"] == ack["id"]
    assert (await pushed(watcher, "deleted", topic))["seq"] == ack["seq"]
    status, page = await rest(server, "GET", f"/api/history?topic={topic}")
    assert page["messages"][0]["deleted"] is True


@pytest.mark.store
async def test_moderation_over_the_socket(connect: Connect, server: ServerProcess) -> None:
    topic = room()
    operator = await connect(token=add_operator(server, f"mod{uuid.uuid4().hex[:6]}"))
    troll, welcome = await registered(connect, "troll")
    troll_id = welcome["user"]["id"]
    bystander, _ = await registered(connect, "bystander")
    await troll.subscribe(topic)
    await bystander.subscribe(topic)

    assert await refused(bystander, "moderate", topic=topic, userId=troll_id, sanction="mute") == (
        "forbidden"
    )
    assert await refused(bystander, "sanctions") == "forbidden"
    muted = await operator.request(
        "moderate", topic=topic, userId=troll_id, sanction="mute", seconds=600
    )
    assert muted["until"] is not None
    assert await refused(troll, "send", topic=topic, text="x", clientMsgId="c1") == "forbidden"
    assert await refused(troll, "typing", topic=topic) == "forbidden"
    listed = await operator.request("sanctions", topic=topic)
    assert [(s["userId"], s["sanction"]) for s in listed["sanctions"]] == [(troll_id, "mute")]
    await operator.request("moderate", topic=topic, userId=troll_id, sanction="unmute")
    await troll.send(topic, "sorry")

    await operator.request("moderate", topic=topic, userId=troll_id, sanction="ban")
    told = await pushed(troll, "moderated", topic)
    assert told["sanction"] == "ban"
    left = await pushed(bystander, "left", topic)
    assert left["user"]["id"] == troll_id
    for action, fields in (
        ("subscribe", {}),
        ("history", {}),
        ("send", {"text": "x", "clientMsgId": "c2"}),
    ):
        assert await refused(troll, action, topic=topic, **fields) == "forbidden"
    await operator.request("moderate", topic=topic, userId=troll_id, sanction="unban")
    await troll.subscribe(topic)

    await operator.request("moderate", topic=topic, userId=troll_id, sanction="kick")
    assert (await pushed(troll, "moderated", topic))["sanction"] == "kick"
    await troll.subscribe(topic)
    assert (
        await refused(
            operator, "moderate", topic=topic, userId=troll_id, sanction="kick", seconds=5
        )
        == "bad_request"
    )


@pytest.mark.store
async def test_a_muted_user_may_not_post_over_rest(connect: Connect, server: ServerProcess) -> None:
    topic = room()
    operator = await connect(token=add_operator(server, f"mod{uuid.uuid4().hex[:6]}"))
    _, welcome = await registered(connect, "rest-troll")
    await operator.request("moderate", topic=topic, userId=welcome["user"]["id"], sanction="mute")
    headers = {"Authorization": f"Bearer {welcome['token']}", "Idempotency-Key": "k1"}
    status, body = await rest(
        server, "POST", "/api/messages", {"topic": topic, "text": "x"}, headers
    )
    assert (status, body["code"]) == (403, "forbidden")
