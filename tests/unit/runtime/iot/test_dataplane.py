"""The IoT data plane as boto3's ``iot-data`` client calls it.

botocore's ``iot-data`` model (service id "IoT Data Plane", signing name ``iotdata``):
``Publish`` is ``POST /topics/{topic}`` with ``qos``/``retain``/``contentType``/
``responseTopic``/``messageExpiry`` in the query string and the ``x-amz-mqtt5-*`` headers;
``DeleteConnection`` is ``DELETE /connections/{clientId}`` with ``cleanSession`` and
``preventWillMessage``. *AWS IoT Core endpoints and quotas*: 128 KB payloads, QoS 0 and 1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.runtime.iot.dataplane import (
    DataPlaneError,
    add_dataplane_routes,
    parse_delete_connection,
    parse_publish,
)
from hubbub.runtime.iot.packets import NO_PROPERTIES, Properties
from hubbub.runtime.iot.quotas import IotQuotas
from hubbub.runtime.sigv4 import SigV4Verifier

KEY, SECRET = "AKIALOCALIOT", "iot-s3cret"
QUOTAS = IotQuotas()


class FakeBroker:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, int, bool, Properties]] = []
        self.disconnected: list[tuple[str, bool, bool]] = []
        self.connected = {"alice-1"}

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = NO_PROPERTIES,
    ) -> None:
        self.published.append((topic, payload, qos, retain, properties))

    def disconnect(
        self, client_id: str, *, clean_session: bool = False, prevent_will: bool = False
    ) -> bool:
        self.disconnected.append((client_id, clean_session, prevent_will))
        return client_id in self.connected


def _run(calls: Callable[[Any], None], *, secret: str = SECRET) -> FakeBroker:
    """Serves the data plane on 127.0.0.1 and runs boto3 ``calls`` against it in a thread."""
    broker = FakeBroker()

    async def scenario() -> None:
        app = web.Application()
        add_dataplane_routes(app, broker, SigV4Verifier({KEY: SECRET}, "iotdata"), QUOTAS)
        runner = web.AppRunner(app)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(runner, sock)
        await site.start()
        client = boto3.client(
            "iot-data",
            endpoint_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1}),
        )
        try:
            await asyncio.to_thread(calls, client)
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
    return broker


def test_publish_through_boto3() -> None:
    def calls(client: Any) -> None:
        client.publish(topic="room/lobby", qos=1, payload=b'{"text": "hi"}')
        client.publish(
            topic="$aws/rules/hubbub/room/lobby",
            payload=b"plain",
            retain=True,
            contentType="text/plain",
            responseTopic="reply/1",
            messageExpiry=60,
            userProperties=json.dumps([{"a": "1"}, {"b": "2"}]),
            payloadFormatIndicator="UTF8_DATA",
            correlationData="Y29ycg==",
        )

    broker = _run(calls)
    first, second = broker.published
    assert first == ("room/lobby", b'{"text": "hi"}', 1, False, NO_PROPERTIES)
    assert second[:4] == ("$aws/rules/hubbub/room/lobby", b"plain", 0, True)
    props = second[4]
    assert props.get(0x01) == 1
    assert props.get(0x02) == 60
    assert props.get(0x03) == "text/plain"
    assert props.get(0x08) == "reply/1"
    assert props.get(0x09) == b"corr"
    assert props.user() == (("a", "1"), ("b", "2"))


def test_delete_connection_through_boto3() -> None:
    def calls(client: Any) -> None:
        client.delete_connection(clientId="alice-1", cleanSession=True, preventWillMessage=True)
        with pytest.raises(ClientError) as missing:
            client.delete_connection(clientId="nobody")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"

    broker = _run(calls)
    assert broker.disconnected == [("alice-1", True, True), ("nobody", False, False)]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"topic": "room/+", "payload": b"x"}, "InvalidRequestException"),
        ({"topic": "a/b/c/d/e/f/g/h/i", "payload": b"x"}, "InvalidRequestException"),
        ({"topic": "room/a", "qos": 2, "payload": b"x"}, "InvalidRequestException"),
        ({"topic": "room/a", "payload": b"x" * (128 * 1024 + 1)}, "RequestEntityTooLargeException"),
        ({"topic": "$aws/events/presence/connected/x", "payload": b"{}"}, "ForbiddenException"),
        ({"topic": "$sys/operators", "payload": b"{}"}, "ForbiddenException"),  # reserved
        ({"topic": "$aws/made-up/x", "payload": b"{}"}, "ForbiddenException"),
    ],
)
def test_bad_publishes_are_refused_and_reach_no_one(kwargs: dict[str, Any], code: str) -> None:
    def calls(client: Any) -> None:
        with pytest.raises(ClientError) as refused:
            client.publish(**kwargs)
        assert refused.value.response["Error"]["Code"] == code

    assert _run(calls).published == []


def test_a_wrong_secret_is_forbidden() -> None:
    def calls(client: Any) -> None:
        with pytest.raises(ClientError) as refused:
            client.publish(topic="room/a", payload=b"x")
        assert refused.value.response["Error"]["Code"] == "ForbiddenException"
        with pytest.raises(ClientError):
            client.delete_connection(clientId="alice-1")

    broker = _run(calls, secret="wrong")
    assert (broker.published, broker.disconnected) == ([], [])


@pytest.mark.parametrize(
    ("path", "headers", "message"),
    [
        ("/topics/a?qos=x", {}, "qos"),
        ("/topics/a?retain=maybe", {}, "retain"),
        ("/topics/a?messageExpiry=soon", {}, "messageExpiry"),
        ("/topics/a", {"x-amz-mqtt5-payload-format-indicator": "UTF16"}, "payloadFormatIndicator"),
        ("/topics/a", {"x-amz-mqtt5-correlation-data": "!!"}, "correlationData"),
        ("/topics/a", {"x-amz-mqtt5-user-properties": "bm90IGpzb24="}, "user-properties"),
        ("/topics/a", {"x-amz-mqtt5-user-properties": "eyJhIjogMX0="}, "list of objects"),
        ("/topics/", {}, "label"),
    ],
)
def test_parse_publish_refusals(path: str, headers: dict[str, str], message: str) -> None:
    with pytest.raises(DataPlaneError, match=message) as refused:
        parse_publish(path, headers, b"", QUOTAS)
    assert refused.value.status == 400


def test_the_topic_label_is_percent_decoded() -> None:
    assert parse_publish("/topics/room%2Flobby?qos=1", {}, b"", QUOTAS).topic == "room/lobby"
    assert parse_delete_connection("/connections/a%20b?cleanSession=true").client_id == "a b"
