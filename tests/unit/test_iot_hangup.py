"""Moderation's IoT Core DeleteConnection: the request boto3's ``iot-data``
``delete_connection`` sends, signed for ``iotdata``, on the Publish's machinery; a client not
connected (404) is closed already; anything else not reached is reported, never raised.

Source: AWS IoT Core API reference, *DeleteConnection* (``DELETE /connections/{clientId}``,
``cleanSession``, ``preventWillMessage``; ``ResourceNotFoundException`` 404).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from hubbub.handlers import bootstrap
from hubbub.push.iot.hangup import IotDataHangup, delete_connection_path
from hubbub.push.port import NoMqttHangup
from hubbub.runtime.sigv4 import SigV4Verifier
from tests.support.iotdata import DataPlaneHandler, serving

KEY, SECRET = "AKIATESTHANGUP", "hangup-secret"


@dataclass
class Broker:
    url: str = ""
    deleted: list[str] = field(default_factory=list)
    connected: set[str] = field(default_factory=set)
    """Client ids (decoded) that are connected: the others answer 404."""
    refuse: bool = False


@pytest.fixture
def broker() -> Iterator[Broker]:
    state = Broker()

    class Handler(DataPlaneHandler):
        verifier = SigV4Verifier({KEY: SECRET}, "iotdata")

        def do_DELETE(self) -> None:
            if self.signed_body() is None:
                return
            if state.refuse:
                self.answer(429, "ThrottlingException", "slow down")
                return
            state.deleted.append(self.path)
            client_id = _client_id(self.path)
            if client_id not in state.connected:
                self.answer(404, "ResourceNotFoundException", "not connected")
                return
            state.connected.discard(client_id)
            self.answer(200, ok=b"")

    with serving(Handler) as url:
        state.url = url
        yield state


def _client_id(path: str) -> str:
    return unquote(path.split("?", 1)[0].removeprefix("/connections/"))


def _hangup(url: str, secret: str = SECRET) -> IotDataHangup:
    return IotDataHangup(
        endpoint=url, region="eu-west-1", credentials=Credentials(KEY, secret), env={}
    )


def test_the_request_is_boto3s_delete_connection(broker: Broker) -> None:
    client = boto3.client(
        "iot-data",
        endpoint_url=broker.url,
        region_name="eu-west-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )
    broker.connected = {"paho/ann 1", "b"}
    client.delete_connection(clientId="paho/ann 1", cleanSession=True, preventWillMessage=True)
    client.close()
    hangup = _hangup(broker.url)
    try:
        assert hangup.disconnect_clients(["b"]) == set()
    finally:
        hangup.close()
    boto3s, ours = broker.deleted
    assert ours == delete_connection_path("b")
    assert boto3s == delete_connection_path("paho/ann 1")
    assert broker.connected == set()


def test_a_client_not_connected_is_closed_already_and_one_connection_serves_all(
    broker: Broker,
) -> None:
    broker.connected = {"a", "c"}
    hangup = _hangup(broker.url)
    try:
        assert hangup.disconnect_clients(["a", "gone", "c"]) == set()
    finally:
        hangup.close()
    assert [_client_id(p) for p in broker.deleted] == ["a", "gone", "c"]
    assert all("cleanSession=true&preventWillMessage=true" in p for p in broker.deleted)


@pytest.mark.parametrize("problem", ["bad signature", "throttled"])
def test_a_refused_delete_is_reported_not_raised(broker: Broker, problem: str) -> None:
    broker.connected = {"a"}
    broker.refuse = problem == "throttled"
    hangup = _hangup(broker.url, secret="wrong" if problem == "bad signature" else SECRET)
    try:
        assert hangup.disconnect_clients(["a"]) == {"a"}
    finally:
        hangup.close()
    assert broker.connected == {"a"}


def test_an_endpoint_that_is_not_there_is_reported_not_raised() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hangup = _hangup(f"http://127.0.0.1:{port}")
    try:
        assert hangup.disconnect_clients(["a", "b"]) == {"a", "b"}
    finally:
        hangup.close()


def test_the_stack_condition_picks_the_hangup() -> None:
    assert isinstance(bootstrap._mqtt_hangup({}), NoMqttHangup)
    assert isinstance(bootstrap._mqtt_hangup({"IOT_DISCONNECT": "false"}), NoMqttHangup)
    picked = bootstrap._mqtt_hangup({"IOT_DISCONNECT": "true"})
    assert isinstance(picked, IotDataHangup)
    picked.close()
