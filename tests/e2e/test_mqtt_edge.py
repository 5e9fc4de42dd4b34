"""hubbub's own MQTT edge in ``hubbub serve``: paho-mqtt clients and WebSocket clients in the
same rooms, through the template's IoT authorizer, Basic Ingest rule and the fan-out's publish.

Sources: AWS IoT developer guide, *Custom authentication and authorization* (a refused
authorizer answer is CONNACK "not authorized"), *AWS IoT Core policy actions* (iot:Subscribe on
topicfilter/, iot:Receive and iot:Publish on topic/), *Reducing messaging costs with Basic
Ingest* ($aws/rules/<rule>/<topic> reaches the rule only), *MQTT* ("AWS IoT differences from
MQTT specifications": a publish the policy refuses disconnects an MQTT 3.1.1 client).
"""

from __future__ import annotations

import asyncio
import json
import queue
import uuid
from typing import Any

import pytest

from hubbub.client import HubbubClient
from tests.e2e.conftest import Connect
from tests.support.mqtt import V5, V311, Mqtt, deadline
from tests.support.server import ServerProcess

NOT_AUTHORIZED = 135
SUBACK_FAILURE = 128


def _mqtt(
    server: ServerProcess, token: str | None, *, transport: str = "tcp", version: int = V311
) -> Mqtt:
    port = server.mqtt_port if transport == "tcp" else server.port
    mqtt = Mqtt("127.0.0.1", port, transport=transport, version=version)
    if token is not None:
        mqtt.client.username_pw_set("anyone", token)
    code, _ = mqtt.connect()
    assert code == 0, code
    return mqtt


async def _registered(connect: Connect, nickname: str) -> tuple[HubbubClient, str, str]:
    """A WebSocket client, its token and its user id."""
    client = await connect()
    welcome = await client.register(nickname)
    return client, str(welcome["token"]), str(welcome["user"]["id"])


def _room() -> str:
    return f"room/m{uuid.uuid4().hex[:10]}"


async def _history(client: HubbubClient, topic: str) -> list[dict[str, Any]]:
    reply = await client.request("history", topic=topic)
    return list(reply["messages"])


async def test_a_guest_mqtt_client_receives_a_websocket_message_once(
    server: ServerProcess, connect: Connect
) -> None:
    topic = _room()
    guest = _mqtt(server, None)
    assert guest.subscribe(topic, qos=1) == [1]
    sender, _, _ = await _registered(connect, "wendy")
    ack = await sender.send(topic, "hello mqtt")
    got = await asyncio.to_thread(guest.expect_topic, topic, 30)
    message = json.loads(got.payload)
    assert message["type"] == "message"
    assert (message["topic"], message["text"], message["nickname"]) == (
        topic,
        "hello mqtt",
        "wendy",
    )
    assert (message["seq"], message["id"]) == (ack["seq"], ack["id"])
    assert message["role"] == "visitor"
    # once: the next message on the topic is the next one sent, not a repeat
    second = await sender.send(topic, "again")
    got = await asyncio.to_thread(guest.expect_topic, topic, 30)
    assert json.loads(got.payload)["seq"] == second["seq"] == ack["seq"] + 1
    with pytest.raises(queue.Empty):
        guest.messages.get_nowait()
    guest.close()


@pytest.mark.parametrize(("transport", "version"), [("tcp", V311), ("websockets", V5)])
async def test_an_mqtt_send_reaches_websocket_clients_and_history(
    server: ServerProcess, connect: Connect, transport: str, version: int
) -> None:
    topic = _room()
    listener, _, _ = await _registered(connect, "lena")
    await listener.subscribe(topic)
    _, token, user_id = await _registered(connect, "mo")
    mqtt = _mqtt(server, token, transport=transport, version=version)
    assert mqtt.subscribe(topic, qos=1) == [1]
    payload = json.dumps({"text": "from mqtt", "clientMsgId": "k1"}).encode()
    mqtt.publish(f"$aws/rules/hubbub/{topic}", payload, qos=1)
    frame = await listener.next_event(
        lambda f: f.get("type") == "message" and f.get("topic") == topic, timeout=deadline(30)
    )
    assert (frame["text"], frame["nickname"], frame["from"]) == ("from mqtt", "mo", user_id)
    assert frame["clientMsgId"] == "k1"
    echo = json.loads((await asyncio.to_thread(mqtt.expect_topic, topic, 30)).payload)
    assert echo["seq"] == frame["seq"]
    stored = await _history(listener, topic)
    assert [(m["text"], m["seq"]) for m in stored] == [("from mqtt", frame["seq"])]
    mqtt.close()


async def test_a_resend_is_stored_once(server: ServerProcess, connect: Connect) -> None:
    """The same clientMsgId twice, and the same plain text twice from the same client (what a
    QoS 1 redelivery repeats: client id, topic and payload), are each stored once.

    IoT Core invokes the rule's function asynchronously, so sends may be stored in any order:
    the test waits for every distinct message, then for a last one sent after them all, and a
    repeat stored in between would show as a fourth message in history."""
    topic = _room()
    listener, _, _ = await _registered(connect, "lou")
    await listener.subscribe(topic)
    _, token, _ = await _registered(connect, "ria")
    mqtt = _mqtt(server, token)
    ingest = f"$aws/rules/hubbub/{topic}"
    json_send = json.dumps({"text": "once", "clientMsgId": "same"}).encode()
    for payload in (json_send, json_send, b"plain words", b"plain words"):
        mqtt.publish(ingest, payload, qos=1)
    seen: set[str] = set()
    while seen != {"once", "plain words"}:
        frame = await listener.next_event(
            lambda f: f.get("type") == "message" and f.get("topic") == topic, timeout=deadline(30)
        )
        seen.add(str(frame["text"]))
    mqtt.publish(ingest, b"last", qos=1)
    await listener.next_event(
        lambda f: f.get("type") == "message" and f.get("text") == "last", timeout=deadline(30)
    )
    stored = await _history(listener, topic)
    assert sorted(m["text"] for m in stored) == ["last", "once", "plain words"]
    assert sorted(m["seq"] for m in stored) == [1, 2, 3]
    mqtt.close()


async def test_the_policy_refuses_what_the_chat_refuses(
    server: ServerProcess, connect: Connect
) -> None:
    _, token, user_id = await _registered(connect, "vic")
    _, _, other_id = await _registered(connect, "val")
    wrong = Mqtt("127.0.0.1", server.mqtt_port)
    wrong.client.username_pw_set("anyone", "not-a-token")
    assert wrong.connect()[0] == NOT_AUTHORIZED
    wrong.close()
    mqtt = _mqtt(server, token)
    own, others, inbox = f"desk/{user_id}", f"desk/{other_id}", f"user/{other_id}"
    assert mqtt.subscribe(own, others, inbox, "room/+", qos=1) == [
        1,
        SUBACK_FAILURE,
        SUBACK_FAILURE,
        1,
    ]
    mqtt.close()
    guest = _mqtt(server, None)
    assert guest.subscribe(f"user/{user_id}", "desk/#", qos=0) == [SUBACK_FAILURE] * 2
    guest.close()


@pytest.mark.parametrize("version", [V311, V5])
async def test_a_raw_publish_to_a_chat_topic_is_refused(
    server: ServerProcess, connect: Connect, version: int
) -> None:
    """Clients send through the rule only: MQTT 5 gets PUBACK 0x87, MQTT 3.1.1 is disconnected;
    nothing reaches the room's subscribers or its history."""
    topic = _room()
    listener, _, _ = await _registered(connect, "sam")
    await listener.subscribe(topic)
    _, token, _ = await _registered(connect, "raw")
    mqtt = _mqtt(server, token, version=version)
    acks: queue.Queue[int] = queue.Queue()
    mqtt.client.on_publish = lambda _c, _u, _mid, reason, _p: acks.put(reason.value)
    mqtt.client.publish(topic, b'{"text": "sneaky"}', qos=1)
    if version == V5:
        assert acks.get(timeout=deadline(10)) == NOT_AUTHORIZED
        mqtt.close()
    else:
        mqtt.wait_disconnected()
        mqtt.client.loop_stop()
    assert await _history(listener, topic) == []
