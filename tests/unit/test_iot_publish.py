"""The relay's IoT Core Publish: the request boto3 would send, signed so IoT Core (here the
runtime's own SigV4 check, which accepts boto3's requests) takes it, one kept-alive connection,
and a typed error for a refusal; and the fan-out, which leaves the broker to the relay."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import boto3
import pytest
from botocore.credentials import Credentials

from hubbub.chat.fanout import Change, FanOut
from hubbub.push.iot.adapter import (
    IotDataBroadcast,
    PublishRefused,
    configured_endpoint,
    endpoint_for,
)
from hubbub.push.port import Broadcast, Published
from hubbub.runtime.sigv4 import SigV4Verifier
from tests.support.iotdata import DataPlaneHandler, serving
from tests.unit.chatworld import world_in
from tests.unit.fakes import RecordingPush

KEY, SECRET = "AKIATESTPUBLISH", "publish-secret"


@dataclass
class Broker:
    url: str
    received: list[tuple[str, bytes]] = field(default_factory=list)
    connections: set[tuple[str, int]] = field(default_factory=set)
    refuse: tuple[int, str] | None = None
    refuse_topic: str | None = None
    drop_after_answer: bool = False
    tokens: list[str | None] = field(default_factory=list)
    gate: threading.Event | None = None
    """When set, each publish waits for it before it is taken."""


@pytest.fixture
def broker() -> Iterator[Broker]:
    state = Broker(url="")

    class Handler(DataPlaneHandler):
        verifier = SigV4Verifier({KEY: SECRET}, "iotdata")

        def do_POST(self) -> None:
            state.connections.add(self.client_address)
            if state.gate is not None:
                state.gate.wait(10)
            body = self.signed_body()
            if body is None:
                return
            if state.refuse is not None:
                self.answer(*state.refuse, "refused")
                return
            if state.refuse_topic is not None and unquote(self.path).startswith(
                f"/topics/{state.refuse_topic}?"
            ):
                self.answer(400, "InvalidRequestException", "refused topic")
                return
            state.received.append((self.path, body))
            state.tokens.append(self.headers.get("X-Amz-Security-Token"))
            self.answer(200)
            if state.drop_after_answer:  # as an endpoint ends an idle kept-alive connection
                self.close_connection = True

    with serving(Handler) as url:
        state.url = url
        yield state


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


def _topics_in_order(broker: Broker) -> dict[str, list[bytes]]:
    seen: dict[str, list[bytes]] = {}
    for path, body in broker.received:
        seen.setdefault(unquote(path).removeprefix("/topics/").split("?")[0], []).append(body)
    return seen


def test_a_batchs_topics_go_side_by_side_each_in_order(broker: Broker) -> None:
    messages = [(f"room/{i % 3}", str(i).encode()) for i in range(30)]
    broadcast = _broadcast(broker)
    try:
        assert broadcast.publish_all(messages) == Published()
    finally:
        broadcast.close()
    assert _topics_in_order(broker) == {
        f"room/{t}": [str(i).encode() for i in range(30) if i % 3 == t] for t in range(3)
    }
    assert len(broker.connections) == 3, "one lane, one connection, per topic"


def test_the_earliest_refusal_of_any_lane_is_where_the_batch_stops(broker: Broker) -> None:
    broker.refuse_topic = "room/bad"
    messages = [
        ("room/a", b"a0"),
        ("room/b", b"b0"),
        ("room/a", b"a1"),
        ("room/bad", b"x0"),
        ("room/b", b"b1"),
        ("room/bad", b"x1"),
    ]
    broadcast = _broadcast(broker)
    try:
        outcome = broadcast.publish_all(messages)
    finally:
        broadcast.close()
    assert outcome.failed_at == 3
    assert "InvalidRequestException" in outcome.error
    taken = _topics_in_order(broker)
    assert taken["room/a"] == [b"a0", b"a1"]
    assert taken["room/b"][:1] == [b"b0"], "what came before the refusal was taken"
    assert "room/bad" not in taken


def test_the_relay_retries_from_the_record_the_broker_refused(tmp_path: Path) -> None:
    """A batch of three rooms whose second record's publish is refused: the first record is
    done, the rest come back with the retry."""

    class RefusesSecond(Broadcast):
        def publish(self, topic: str, data: bytes) -> None:
            raise AssertionError("publish_all is the relay's call")

        def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> Published:
            assert [t for t, _ in messages] == ["room/a", "room/b", "room/c"]
            return Published(1, "ThrottlingException")

    with world_in(tmp_path) as world:
        world.visitor("writer", "Wes")
        for topic in ("room/a", "room/b", "room/c"):
            world.send("writer", topic, "hi", f"{topic}-0")
        changes = [Change(m) for t in ("room/a", "room/b", "room/c") for m in world.stored(t)]
        fan_out = FanOut(world.store, world.push, RefusesSecond())

        report = fan_out.publish_batch([None, *changes])

    assert (report.done, report.reason) == (2, "not published to the broker: ThrottlingException")


def test_one_topic_is_published_on_the_callers_thread_in_order(broker: Broker) -> None:
    """One room's batch has nothing to run side by side: no lane, no thread to hand over to."""
    threads: set[str] = set()
    original = IotDataBroadcast.publish

    def publish(self: IotDataBroadcast, topic: str, data: bytes) -> None:
        threads.add(threading.current_thread().name)
        original(self, topic, data)

    broadcast = _broadcast(broker)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(IotDataBroadcast, "publish", publish)
            assert broadcast.publish_all([("room/a", b"a0"), ("room/a", b"a1")]) == Published()
    finally:
        broadcast.close()
    assert threads == {threading.current_thread().name}
    assert _topics_in_order(broker) == {"room/a": [b"a0", b"a1"]}


def test_the_fan_out_posts_to_websockets_and_never_publishes(tmp_path: Path) -> None:
    """The broker's copy is the relay's: the fan-out's batch is its WebSocket posts alone, so
    its next batch never waits for IoT Core's round trips."""

    class Refuses(Broadcast):
        def publish(self, topic: str, data: bytes) -> None:
            raise AssertionError("the fan-out published")

        def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> Published:
            raise AssertionError("the fan-out published")

    with world_in(tmp_path) as world:
        world.visitor("writer", "Wes")
        world.visitor("reader", "Rae")
        world.reply("reader", action="subscribe", topic="room/a")
        world.send("writer", "room/a", "hi", "a-0")
        push = RecordingPush()
        fan_out = FanOut(world.store, push, Refuses())
        report = fan_out.deliver_batch([Change(m) for m in world.stored("room/a")])
        single = fan_out.deliver(world.stored("room/a")[0])

    assert report.done == 1
    assert single.delivered == 1
    assert len(push.posts) == 2, "the reader got the message, from each path"


@pytest.mark.parametrize(
    ("region", "env"),
    [
        ("us-east-1", {}),
        ("eu-central-1", {}),
        ("cn-north-1", {}),
        ("us-gov-west-1", {}),
        ("us-east-1", {"AWS_USE_FIPS_ENDPOINT": "true"}),
        (
            "us-east-1",
            {
                "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            },
        ),
    ],
)
def test_the_resolved_endpoint_is_the_one_a_boto3_client_gets(
    region: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluated from botocore's rule set for ``iot-data`` without building a client, on AWS
    as locally: the same answer a client in the same configuration resolves."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_DATA_PLANE", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client(
        "iot-data", region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
    )
    assert endpoint_for(env, region) == client.meta.endpoint_url


def test_the_environment_s_credentials_sign_as_botocore_s_would(broker: Broker) -> None:
    """Lambda's credentials come in the environment; the signer gets them from there (the
    session token too) and the signature verifies."""
    env = {
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": "session-token",
    }
    adapter = IotDataBroadcast(endpoint=broker.url, region="eu-west-1", env=env)
    adapter.publish("room/a", b"x")
    adapter.close()
    assert broker.received == [("/topics/room%2Fa?qos=1", b"x")]
    assert broker.tokens == ["session-token"]


def test_without_credentials_in_the_environment_botocore_s_chain_is_asked(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    adapter = IotDataBroadcast(endpoint=broker.url, region="eu-west-1", env={})
    adapter.publish("room/a", b"x")
    adapter.close()
    assert broker.received == [("/topics/room%2Fa?qos=1", b"x")]
    assert broker.tokens == [None]
