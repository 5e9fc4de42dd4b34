"""The fan-out's IoT Core Publish: the request boto3 would send, signed so IoT Core (here the
runtime's own SigV4 check, which accepts boto3's requests) takes it, one kept-alive connection,
and a typed error for a refusal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.credentials import Credentials

from hubbub.push.iot.adapter import (
    IotDataBroadcast,
    PublishRefused,
    configured_endpoint,
    endpoint_for,
)
from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

KEY, SECRET = "AKIATESTPUBLISH", "publish-secret"


@dataclass
class Broker:
    url: str
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connections: set[tuple[str, int]] = field(default_factory=set)
    refuse: tuple[int, str] | None = None
    drop_after_answer: bool = False


@pytest.fixture
def broker() -> Iterator[Broker]:
    verifier = SigV4Verifier({KEY: SECRET}, "iotdata")
    state = Broker(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.connections.add(self.client_address)
            try:
                verifier.verify("POST", self.path, dict(self.headers.items()), body)
            except SignatureRejected as exc:
                self._answer(403, "ForbiddenException", str(exc))
                return
            if state.refuse is not None:
                self._answer(*state.refuse, "refused")
                return
            state.received.append((self.path, body))
            self._answer(200, None, "")
            if state.drop_after_answer:  # as an endpoint ends an idle kept-alive connection
                self.close_connection = True

        def _answer(self, status: int, error_type: str | None, message: str) -> None:
            payload = json.dumps({"message": message}).encode() if error_type else b"{}"
            self.send_response(status)
            if error_type:
                self.send_header("x-amzn-ErrorType", f"{error_type}:http://internal")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _broadcast(broker: Broker, secret: str = SECRET) -> IotDataBroadcast:
    return IotDataBroadcast(
        endpoint=broker.url, region="eu-west-1", credentials=Credentials(KEY, secret), env={}
    )


def test_a_publish_is_boto3s_request_signed_for_iotdata(broker: Broker) -> None:
    broadcast = _broadcast(broker)
    try:
        broadcast.publish("room/a b", b'{"type":"message","seq":1}')
        broadcast.publish("room/a b", b'{"type":"message","seq":2}')
    finally:
        broadcast.close()
    assert broker.received == [
        ("/topics/room%2Fa%20b?qos=1", b'{"type":"message","seq":1}'),
        ("/topics/room%2Fa%20b?qos=1", b'{"type":"message","seq":2}'),
    ]
    assert len(broker.connections) == 1, "one kept-alive connection for every publish"


def test_a_bad_signature_is_a_typed_refusal(broker: Broker) -> None:
    broadcast = _broadcast(broker, secret="not-the-secret")
    with pytest.raises(PublishRefused) as refused:
        broadcast.publish("room/a", b"{}")
    broadcast.close()
    assert (refused.value.status, refused.value.error_type) == (403, "ForbiddenException")
    assert broker.received == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "InvalidRequestException"), (413, "RequestEntityTooLargeException"), (503, "X")],
)
def test_a_refused_publish_raises_its_error_type(
    broker: Broker, status: int, error_type: str
) -> None:
    broker.refuse = (status, error_type)
    broadcast = _broadcast(broker)
    with pytest.raises(PublishRefused) as refused:
        broadcast.publish("room/a", b"{}")
    broadcast.close()
    assert (refused.value.status, refused.value.error_type) == (status, error_type)


def test_a_connection_the_endpoint_closed_is_replaced_once(broker: Broker) -> None:
    broker.drop_after_answer = True
    broadcast = _broadcast(broker)
    try:
        for seq in range(3):
            broadcast.publish("room/a", str(seq).encode())
    finally:
        broadcast.close()
    assert [body for _, body in broker.received] == [b"0", b"1", b"2"]
    assert len(broker.connections) == 3


def test_an_endpoint_that_does_not_answer_raises() -> None:
    broadcast = IotDataBroadcast(
        endpoint="http://127.0.0.1:9",
        region="eu-west-1",
        credentials=Credentials(KEY, SECRET),
        connect_timeout_s=0.5,
        env={},
    )
    with pytest.raises(ConnectionRefusedError):
        broadcast.publish("room/a", b"{}")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"AWS_ENDPOINT_URL": "http://all"}, "http://all"),
        (
            {"AWS_ENDPOINT_URL_IOT_DATA_PLANE": "http://iot", "AWS_ENDPOINT_URL": "http://all"},
            "http://iot",
        ),
        (
            {
                "AWS_ENDPOINT_URL_IOT_DATA_PLANE": "http://iot",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            },
            None,
        ),
    ],
)
def test_the_endpoint_is_the_standard_configuration(
    env: dict[str, str], expected: str | None
) -> None:
    assert configured_endpoint(env) == expected


def test_without_a_configured_endpoint_botocore_resolves_the_regions() -> None:
    assert endpoint_for({}, "eu-west-1") == "https://data-ats.iot.eu-west-1.amazonaws.com"
    assert endpoint_for({"AWS_ENDPOINT_URL": "http://all"}, "eu-west-1") == "http://all"
