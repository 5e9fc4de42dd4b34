"""IoT Core's custom authorizer, policies, topic rules and data plane in ``hubbub serve``, driven
by paho-mqtt against the iotprobe template (its functions import nothing from hubbub).

Sources: *Custom authentication and authorization* / *Defining your Lambda function* (the
authorizer's event and answer; a refusal is CONNACK "not authorized"), *AWS IoT Core policy
actions* (Subscribe on topicfilter/, Receive on topic/), *Reducing messaging costs with Basic
Ingest* ($aws/rules/<rule>/... reaches that rule only, never subscribers), *Functions* (the Basic
Ingest prefix is not available to topic()), the ``iot-data`` Publish API.
"""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mqtt import V5, V311, Mqtt
from tests.support.server import ServerProcess

PROBE = Path(__file__).parent / "apps" / "iotprobe" / "template.yaml"
NOT_AUTHORIZED = 135
"""CONNACK reason code 0x87 (MQTT 5); paho reports a 3.1.1 return code 5 ("not authorized") as
the same code (and return code 4, "bad user name or password", as 134)."""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("iotprobe") / "data", template=PROBE).start()
    yield proc
    proc.stop()


def _client(server: ServerProcess, password: str | None, transport: str, version: int) -> Mqtt:
    port = server.mqtt_port if transport == "tcp" else server.port
    mqtt = Mqtt("127.0.0.1", port, transport=transport, version=version)
    if password is not None:
        mqtt.client.username_pw_set("anyone", password)
    return mqtt


@pytest.mark.parametrize(("transport", "version"), [("tcp", V311), ("websockets", V5)])
def test_the_authorizer_refuses_a_wrong_password(
    probe: ServerProcess, transport: str, version: int
) -> None:
    for password in ("wrong", None):
        refused = _client(probe, password, transport, version)
        assert refused.connect()[0] == NOT_AUTHORIZED
        refused.close()
    allowed = _client(probe, "open-sesame", transport, version)
    assert allowed.connect()[0] == 0
    allowed.close()


def test_the_policy_limits_subscriptions(probe: ServerProcess) -> None:
    mqtt = _client(probe, "open-sesame", "tcp", V311)
    assert mqtt.connect()[0] == 0
    assert mqtt.subscribe("chat/+", "echo/#", "secret/#", qos=1) == [1, 1, 128]
    mqtt.close()


def test_basic_ingest_reaches_the_rule_and_no_subscriber(probe: ServerProcess) -> None:
    room = f"r{uuid.uuid4().hex[:8]}"
    listener = _client(probe, "open-sesame", "tcp", V311)
    assert listener.connect()[0] == 0
    assert listener.subscribe("chat/+", f"echo/{room}", qos=1) == [1, 1]
    sender = _client(probe, "open-sesame", "websockets", V5)
    assert sender.connect()[0] == 0
    sender.publish(f"$aws/rules/Ingest/chat/{room}", b'{"text": "drop me"}', qos=1)
    sender.publish(f"$aws/rules/Ingest/chat/{room}", b'{"text": "hi"}', qos=1)
    echo = listener.expect_topic(f"echo/{room}", timeout=30)
    assert json.loads(echo.payload) == {
        "text": "hi",
        "topic": f"chat/{room}",
        "room": room,
        "cid": sender.client_id,
        "who": "probe",
    }
    sender.publish(f"chat/{room}", b'{"text": "direct"}', qos=1)
    seen = [listener.expect(timeout=30) for _ in range(2)]
    assert sorted(m.topic for m in seen) == [f"chat/{room}", f"echo/{room}"]
    assert all(b"drop me" not in m.payload for m in [echo, *seen])
    with pytest.raises(queue.Empty):
        listener.messages.get_nowait()
    listener.close()
    sender.close()


def test_a_rule_on_lifecycle_events(probe: ServerProcess) -> None:
    """*Lifecycle events*: the connected event goes through the rules engine like any message."""
    listener = _client(probe, "open-sesame", "tcp", V311)
    assert listener.connect()[0] == 0
    assert listener.subscribe("echo/presence", qos=1) == [1]
    newcomer = _client(probe, "open-sesame", "websockets", V5)
    assert newcomer.connect()[0] == 0
    while True:
        event = json.loads(listener.expect_topic("echo/presence", timeout=30).payload)
        if event["clientId"] == newcomer.client_id:
            break
    assert event == {
        "eventType": "connected",
        "clientId": newcomer.client_id,
        "principalIdentifier": "probe",
        "room": "presence",
    }
    newcomer.close()
    listener.close()
