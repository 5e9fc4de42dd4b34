"""Moderation reaches MQTT members in ``hubbub serve``: a ban or a kick disconnects the user's
paho client from IoT Core (the moderating function's DeleteConnection, through the runtime's
data plane), and a banned client that connects again can neither subscribe to the room nor
receive it, while the other members still do.

Sources: AWS IoT Core API reference, *DeleteConnection*; AWS IoT developer guide, *Defining
your authorizer's Lambda function* (the policy documents, ``refreshAfterInSeconds``) and
*Lifecycle events*.
"""

from __future__ import annotations

import json
import uuid

import pytest

from hubbub.client import HubbubClient
from tests.e2e.conftest import Connect
from tests.e2e.test_product import add_operator
from tests.e2e.test_rest_moderation import moderate
from tests.support.members import presence_event, registered
from tests.support.mqtt import V311, Mqtt, deadline
from tests.support.server import ServerProcess

SUBACK_FAILURE = 0x80
"""MQTT 3.1.1's SUBACK return code for a subscription the server refused."""


def _room() -> str:
    return f"room/b{uuid.uuid4().hex[:10]}"


def _paho(server: ServerProcess, token: str, client_id: str | None = None) -> Mqtt:
    mqtt = Mqtt("127.0.0.1", server.mqtt_port, version=V311, client_id=client_id)
    mqtt.client.username_pw_set("anyone", token)
    return mqtt


async def _present_member(
    server: ServerProcess, watcher: HubbubClient, token: str, user_id: str, topic: str
) -> Mqtt:
    """A paho client of the user, subscribed to ``topic`` and present there."""
    member = _paho(server, token)
    assert member.connect()[0] == 0
    assert member.subscribe(topic, qos=1) == [1]
    await watcher.next_event(presence_event("joined", topic, user_id), timeout=deadline(30))
    return member


@pytest.mark.store
async def test_a_banned_paho_member_is_disconnected_and_cannot_follow_the_room_again(
    server: ServerProcess, connect: Connect
) -> None:
    topic, elsewhere = _room(), _room()
    watcher, _, _ = await registered(connect, "wes")
    await watcher.subscribe(topic)
    _, token, user_id = await registered(connect, "troll")
    _, other_token, other_id = await registered(connect, "olive")
    member = await _present_member(server, watcher, token, user_id, topic)
    other = await _present_member(server, watcher, other_token, other_id, topic)
    operator = await connect(token=add_operator(server, f"mod{uuid.uuid4().hex[:6]}"))

    await operator.request("moderate", topic=topic, userId=user_id, sanction="ban")
    member.wait_disconnected(timeout=30)
    await watcher.next_event(presence_event("left", topic, user_id), timeout=deadline(30))
    member.close()

    again = _paho(server, token, client_id=member.client_id)
    try:
        assert again.connect_when_allowed()[0] == 0, "a ban refuses the room, not the edge"
        assert again.subscribe(topic, qos=1) == [SUBACK_FAILURE]
        assert again.subscribe("room/+", qos=1) == [1], "a wildcard is allowed..."
        banned = await watcher.send(topic, "not for the troll")
        got = other.expect_topic(topic, timeout=30)
        assert json.loads(got.payload)["seq"] == banned["seq"], "others still get the room"
        await watcher.send(elsewhere, "for everyone")
        first = again.expect(timeout=30)
        assert first.topic == elsewhere, "...and delivers nothing of the banned room"
    finally:
        again.close()
        other.close()


async def test_a_kicked_paho_member_is_disconnected_and_may_come_back(
    server: ServerProcess, connect: Connect
) -> None:
    topic = _room()
    watcher, _, _ = await registered(connect, "wren")
    await watcher.subscribe(topic)
    _, token, user_id = await registered(connect, "kit")
    member = await _present_member(server, watcher, token, user_id, topic)
    operator_token = add_operator(server, f"mod{uuid.uuid4().hex[:6]}")

    status, _ = await moderate(server, operator_token, topic=topic, userId=user_id, sanction="kick")
    assert status == 200
    member.wait_disconnected(timeout=30)
    await watcher.next_event(presence_event("left", topic, user_id), timeout=deadline(30))
    member.close()

    back = _paho(server, token, client_id=member.client_id)
    try:
        assert back.connect_when_allowed()[0] == 0
        assert back.subscribe(topic, qos=1) == [1]
        await watcher.next_event(presence_event("joined", topic, user_id), timeout=deadline(30))
    finally:
        back.close()
