"""Presence over both edges in ``hubbub serve`` (issue 14, item 2): a paho client that
subscribes to a room is present there for WebSocket members — ``joined``, listed by
``presence``, ``left`` when it unsubscribes or disconnects — through IoT Core's lifecycle
events, the template's presence rules and their function, as on AWS.

Source: AWS IoT developer guide, *Lifecycle events* (subscribe/unsubscribe and disconnect
events, published on ``$aws/events/...`` and routable by topic rules).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from hubbub.client import HubbubClient
from tests.e2e.conftest import Connect
from tests.support.members import presence_event, registered
from tests.support.mqtt import V5, V311, Mqtt, deadline
from tests.support.server import ServerProcess
from tests.support.waiting import eventually


async def _members(client: HubbubClient, topic: str) -> set[str]:
    reply = await client.request("presence", topic=topic)
    return {m["id"] for m in reply["members"]}


@pytest.mark.parametrize(("transport", "version"), [("tcp", V311), ("websockets", V5)])
async def test_an_mqtt_member_joins_and_leaves_like_a_websocket_one(
    server: ServerProcess, connect: Connect, transport: str, version: int
) -> None:
    topic = f"room/p{uuid.uuid4().hex[:10]}"
    watcher, _, _ = await registered(connect, "wanda")
    await watcher.subscribe(topic)
    _, token, user_id = await registered(connect, "mel")
    port = server.mqtt_port if transport == "tcp" else server.port
    mqtt = Mqtt("127.0.0.1", port, transport=transport, version=version)
    mqtt.client.username_pw_set("anyone", token)
    assert mqtt.connect()[0] == 0
    assert mqtt.subscribe(topic, qos=1) == [1]
    joined = await watcher.next_event(
        presence_event("joined", topic, user_id), timeout=deadline(30)
    )
    assert joined["user"] == {"id": user_id, "role": "visitor", "nickname": "mel"}
    assert user_id in await _members(watcher, topic)
    mqtt.client.unsubscribe(topic)
    await watcher.next_event(presence_event("left", topic, user_id), timeout=deadline(30))
    assert user_id not in await _members(watcher, topic)
    assert mqtt.subscribe(topic, qos=1) == [1]
    await watcher.next_event(presence_event("joined", topic, user_id), timeout=deadline(30))
    mqtt.close()  # DISCONNECT: the disconnected event
    await watcher.next_event(presence_event("left", topic, user_id), timeout=deadline(30))
    assert user_id not in await _members(watcher, topic)


async def test_a_dropped_mqtt_connection_leaves_and_messages_still_reach_everyone(
    server: ServerProcess, connect: Connect
) -> None:
    """A connection that just goes away (no DISCONNECT) leaves too; meanwhile the member's
    presence never made the fan-out post to it, and WebSocket members get each message once."""
    topic = f"room/p{uuid.uuid4().hex[:10]}"
    watcher, _, _ = await registered(connect, "wyatt")
    await watcher.subscribe(topic)
    guest = Mqtt("127.0.0.1", server.mqtt_port)
    assert guest.connect()[0] == 0
    assert guest.subscribe(topic, qos=1) == [1]
    joined = await watcher.next_event(
        lambda f: f.get("type") == "joined" and f.get("topic") == topic, timeout=deadline(30)
    )
    guest_id = joined["user"]["id"]
    assert joined["user"]["role"] == "guest"
    ack = await watcher.send(topic, "still here")
    got = await watcher.next_event(
        lambda f: f.get("type") == "message" and f.get("topic") == topic, timeout=deadline(30)
    )
    assert got["seq"] == ack["seq"]
    guest.client.socket().close()  # the TCP connection dies without a DISCONNECT
    await watcher.next_event(presence_event("left", topic, guest_id), timeout=deadline(30))
    guest.client.loop_stop()


@pytest.mark.store
async def test_an_mqtt_typing_notice_reaches_websocket_members(
    server: ServerProcess, connect: Connect
) -> None:
    """``{"type": "typing"}`` published through Basic Ingest is ``typing`` for the room's
    WebSocket members, as a WebSocket ``typing`` is; nothing is stored."""
    topic = f"room/p{uuid.uuid4().hex[:10]}"
    watcher, _, _ = await registered(connect, "tia")
    await watcher.subscribe(topic)
    _, token, user_id = await registered(connect, "ty")
    mqtt = Mqtt("127.0.0.1", server.mqtt_port)
    mqtt.client.username_pw_set("anyone", token)
    assert mqtt.connect()[0] == 0
    mqtt.publish(f"$aws/rules/hubbub/{topic}", b'{"type": "typing"}', qos=1)
    typing = await watcher.next_event(
        presence_event("typing", topic, user_id), timeout=deadline(30)
    )
    assert typing["user"]["nickname"] == "ty"
    reply = await watcher.request("history", topic=topic)
    assert reply["messages"] == []
    mqtt.close()


async def test_duplicated_lifecycle_events_change_nothing(
    server: ServerProcess, connect: Connect
) -> None:
    """*Lifecycle events*: "You might receive duplicate messages". With each lifecycle event
    published twice (the runtime's fault), an MQTT member still joins once, leaves once and is
    listed once: the presence function takes a repeat as the same event."""
    topic = f"room/p{uuid.uuid4().hex[:10]}"
    watcher, _, _ = await registered(connect, "dora")
    await watcher.subscribe(topic)
    _, token, user_id = await registered(connect, "dupe")
    seen: list[dict[str, Any]] = []

    def noting(wanted: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
        def note(frame: dict[str, Any]) -> bool:
            seen.append(frame)
            return wanted(frame)

        return note

    def presence_invocations() -> int:
        return int(server.admin("stats")["functions"]["MqttPresenceFunction"]["invocations"])

    server.admin("faults", {"duplicate_lifecycle_events": True})
    mqtt = Mqtt("127.0.0.1", server.mqtt_port)
    try:
        before = presence_invocations()
        mqtt.client.username_pw_set("anyone", token)
        assert mqtt.connect()[0] == 0
        assert mqtt.subscribe(topic, qos=1) == [1]
        await watcher.next_event(noting(presence_event("joined", topic, user_id)), timeout=30)
        mqtt.client.unsubscribe(topic)
        await watcher.next_event(noting(presence_event("left", topic, user_id)), timeout=30)
        await eventually(
            lambda: presence_invocations() >= before + 4,
            timeout=30,
            what="both copies of both events reaching the presence function",
        )
        ack = await watcher.send(topic, "after the copies")
        await watcher.next_event(
            noting(lambda f: f.get("type") == "message" and f.get("seq") == ack["seq"]),
            timeout=30,
        )
        about_them = [
            f["type"]
            for f in seen
            if f.get("type") in ("joined", "left") and f.get("topic") == topic
        ]
        assert about_them == ["joined", "left"]
        assert user_id not in await _members(watcher, topic)
    finally:
        server.admin("faults", {"duplicate_lifecycle_events": False})
        mqtt.close()
