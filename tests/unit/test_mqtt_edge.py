"""The MQTT edge's pure parts and handlers: the chat's policy as IoT policies, the Basic Ingest
payload, the authorizer and ingest functions, and the fan-out's one publish per message.

The IoT policy documents are evaluated by the local runtime's IoT policy engine (the same one
that enforces them in ``hubbub serve``), so each row says what IoT Core would allow. Sources:
AWS IoT developer guide, *AWS IoT Core policy actions* (``iot:Subscribe`` on ``topicfilter/``,
``iot:Receive`` and ``iot:Publish`` on ``topic/``), *Custom authentication and authorization*
(the authorizer's answer: ``isAuthenticated``, ``principalId`` of letters and digits,
``policyDocuments``, ``disconnectAfterInSeconds``, ``refreshAfterInSeconds``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat import policy
from hubbub.chat.mqtt import iot_policy, parse_ingest, principal_of, sender_of
from hubbub.chat.service import Chat
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.handlers import bootstrap, mqtt_authorizer, mqtt_ingest, relay, stream
from hubbub.ids import Topic, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.push.iot.adapter import IotDataBroadcast
from hubbub.push.port import Broadcast, NoBroadcast
from hubbub.runtime.cloudformation.loader import load_app
from hubbub.runtime.iot.policy import PolicyContext, PolicySet, parse_policy
from hubbub.store.items import message_item
from hubbub.store.port import Operator, Role, User, Visitor
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support import aws_events
from tests.unit.fakes import FUTURE_MS, SECRET, RecordingPush

ARN = "arn:aws:iot:us-east-1:123456789012"
GUEST = User(UserId("g_0a"), Role.GUEST, None)
VIC = User(UserId("v_01"), Role.VISITOR, "Vic")
NAMELESS = User(UserId("v_02"), Role.VISITOR, None)
OLGA = User(UserId("o_01"), Role.OPERATOR, "Olga")
USERS = {"guest": GUEST, "vic": VIC, "nameless": NAMELESS, "olga": OLGA}


def _allowed(user: User, client_id: str = "c-1") -> PolicySet:
    document = json.dumps(iot_policy(user, ARN))
    return PolicySet(
        [parse_policy(document)], PolicyContext("us-east-1", "123456789012", client_id)
    )


# filter -> who may subscribe to it (and, for a concrete topic, receive on it)
SUBSCRIBE = [
    ("room/lobby", {"guest", "vic", "nameless", "olga"}),
    ("room/+", {"guest", "vic", "nameless", "olga"}),
    ("room/#", {"guest", "vic", "nameless", "olga"}),
    ("desk/v_01", {"vic", "olga"}),
    ("desk/v_02", {"nameless", "olga"}),
    ("desk/+", {"olga"}),
    ("desk/#", {"olga"}),
    ("user/v_01", {"vic"}),
    ("user/o_01", {"olga"}),
    ("user/+", set()),
    ("$sys/operators", {"guest", "vic", "nameless", "olga"}),
    ("$sys/other", {"olga"}),
    ("#", set()),
    ("+/lobby", set()),
]

# chat topic -> who may send to it through $aws/rules/hubbub/{topic}
SEND = [
    ("room/lobby", {"vic", "olga"}),
    ("desk/v_01", {"vic", "olga"}),
    ("desk/v_02", {"olga"}),
    ("user/o_01", {"vic", "olga"}),
    ("user/v_01", {"vic", "olga"}),
    ("$sys/operators", set()),
]


@pytest.mark.parametrize(("topic_filter", "who"), SUBSCRIBE)
def test_subscribe_and_receive_follow_the_chat_policy(topic_filter: str, who: set[str]) -> None:
    for name, user in USERS.items():
        permissions = _allowed(user)
        assert permissions.can_subscribe(topic_filter) is (name in who), (name, topic_filter)
        if "+" not in topic_filter and "#" not in topic_filter:
            assert permissions.can_receive(topic_filter) is (name in who), (name, topic_filter)
        try:
            policy.check_subscribe(user, topic_filter)
            chat_allows = True
        except ProtocolError:
            chat_allows = False
        # the IoT policy never allows more than the chat's; it allows less only for a visitor's
        # deeper desk filters (desk/{id}/#), which name no topic hubbub stores
        assert not (name in who and not chat_allows), (name, topic_filter)


@pytest.mark.parametrize(("topic", "who"), SEND)
def test_publish_is_allowed_on_basic_ingest_only_for_what_the_chat_lets_one_send(
    topic: str, who: set[str]
) -> None:
    for name, user in USERS.items():
        permissions = _allowed(user)
        assert permissions.can_publish(f"$aws/rules/hubbub/{topic}") is (name in who), name
        assert not permissions.can_publish(topic), name  # raw publishes: never
        assert not permissions.can_publish(f"$aws/rules/other/{topic}"), name
        try:
            policy.check_send(user, topic)
            chat_allows = True
        except ProtocolError:
            chat_allows = False
        assert chat_allows is (name in who), name


def test_connect_is_allowed_on_the_clients_own_id() -> None:
    for user in USERS.values():
        assert _allowed(user, "any-id").can_connect("any-id")


# -- principals ---------------------------------------------------------------------------------


@dataclass
class Directory:
    visitors: dict[str, Visitor] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)

    def get_visitor(self, user_id: UserId) -> Visitor | None:
        return self.visitors.get(user_id)

    def get_operator(self, user_id: UserId) -> Operator | None:
        return self.operators.get(user_id)


def test_a_principal_names_the_stored_user() -> None:
    directory = Directory(
        {"v_01": Visitor(UserId("v_01"), "Vicky", None, 1)},
        {"o_01": Operator(UserId("o_01"), "Olga", 1)},
    )
    assert principal_of(VIC) == "v01"
    assert principal_of(VIC).isalnum()
    # the stored nickname, not the token's
    assert sender_of("v01", directory) == User(UserId("v_01"), Role.VISITOR, "Vicky")
    assert sender_of(principal_of(OLGA), directory) == OLGA
    for gone in ("v02", "o02", principal_of(GUEST)):
        with pytest.raises(ProtocolError) as refused:
            sender_of(gone, directory)
        assert refused.value.code is ErrorCode.FORBIDDEN
    for bad in ("", "x01", "v_01", "v01*", "V01"):
        with pytest.raises(ProtocolError) as refused:
            sender_of(bad, directory)
        assert refused.value.code is ErrorCode.UNAUTHORIZED


# -- the ingest payload -------------------------------------------------------------------------


def _ingest(payload: bytes, topic: str = "room/a", client: str = "c1") -> dict[str, Any]:
    return aws_events.iot_ingest_event(payload, topic, client, "v01")


def test_a_json_payload_gives_its_text_and_client_msg_id() -> None:
    send = parse_ingest(_ingest(json.dumps({"text": "hi", "clientMsgId": "k1"}).encode()))
    assert (send.topic, send.text, send.client_msg_id) == ("room/a", "hi", "k1")


def test_plain_text_gets_an_id_a_redelivery_repeats() -> None:
    """A QoS 1 redelivery repeats the client id, the topic and the payload's bytes: the same id.
    Any of them different is another message."""
    first = parse_ingest(_ingest("héllo".encode()))
    assert first.text == "héllo"
    assert first.client_msg_id.startswith("mqtt-") and len(first.client_msg_id) <= 64
    assert parse_ingest(_ingest("héllo".encode())) == first
    others = [
        parse_ingest(_ingest(b"hello")),
        parse_ingest(_ingest("héllo".encode(), client="c2")),
        parse_ingest(_ingest("héllo".encode(), topic="room/b")),
    ]
    assert len({first.client_msg_id, *(o.client_msg_id for o in others)}) == 4
    no_id = parse_ingest(_ingest(b'{"text": "json without id"}'))
    assert no_id.text == "json without id" and no_id.client_msg_id.startswith("mqtt-")
    assert parse_ingest(_ingest(b"42")).text == "42"  # JSON, but not an object: text


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b'{"clientMsgId": "k"}',
        b'{"text": 5}',
        b'{"text": "t", "clientMsgId": 7}',
        json.dumps({"text": "t", "clientMsgId": "k" * 65}).encode(),
        b'{"text": "t", "clientMsgId": ""}',
    ],
)
def test_a_bad_payload_is_a_bad_request(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_ingest(_ingest(payload))
    assert refused.value.code is ErrorCode.BAD_REQUEST


def test_an_event_without_topic_or_base64_is_a_bad_request() -> None:
    for event in ({"data": "aGk=", "clientId": "c"}, {**_ingest(b"hi"), "data": "***"}):
        with pytest.raises(ProtocolError) as refused:
            parse_ingest(event)
        assert refused.value.code is ErrorCode.BAD_REQUEST


# -- the handlers -------------------------------------------------------------------------------


@dataclass
class RecordingBroadcast(Broadcast):
    published: list[tuple[str, bytes]] = field(default_factory=list)
    fail: bool = False

    def publish(self, topic: str, data: bytes) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.published.append((topic, data))


@dataclass
class Edge:
    chat: Chat
    store: SqliteStore
    push: RecordingPush
    broadcast: RecordingBroadcast
    tokens: TokenIssuer


@dataclass
class Context:
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111122223333:function:auth"


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    monkeypatch.delenv("MAIL_SENDER", raising=False)  # the relay publishes, queues no mail
    store = SqliteStore(tmp_path / "hubbub.sqlite3", busy_timeout_ms=50)
    (tmp_path / "token-secret").write_bytes(SECRET)
    env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path), "TOKEN_TTL_SECONDS": "3600"}
    push, broadcast = RecordingPush(), RecordingBroadcast()
    service = bootstrap.build_chat(
        env, store=store, clock=ManualClock(FUTURE_MS), push=push, broadcast=broadcast
    )
    bootstrap.use_chat(service)
    yield Edge(service, store, push, broadcast, TokenIssuer(SECRET, 3600))
    bootstrap.use_chat(None)
    store.close()


def _authorize(password: bytes | None, client_id: str = "c1") -> dict[str, Any]:
    event = aws_events.iot_authorizer_event(client_id, password)
    answer: dict[str, Any] = mqtt_authorizer.handler(event, Context())
    return answer


def test_the_authorizer_answers_a_token_with_the_users_policy(edge: Edge) -> None:
    token = edge.tokens.issue(VIC, FUTURE_MS)
    answer = _authorize(token.encode())
    assert answer["isAuthenticated"] is True
    assert answer["principalId"] == "v01"
    assert (answer["disconnectAfterInSeconds"], answer["refreshAfterInSeconds"]) == (86400, 300)
    (document,) = answer["policyDocuments"]
    assert json.loads(document) == iot_policy(VIC, "arn:aws:iot:eu-west-1:111122223333")


def test_the_authorizer_lets_a_guest_in_without_a_password(edge: Edge) -> None:
    answer = _authorize(None, "some-device")
    assert answer["isAuthenticated"] is True
    assert answer["principalId"].startswith("g") and answer["principalId"].isalnum()
    (document,) = answer["policyDocuments"]
    statements = json.loads(document)["Statement"]
    assert "iot:Publish" not in {s["Action"] for s in statements}


def test_the_authorizer_refuses_a_bad_or_expired_token(edge: Edge) -> None:
    expired = edge.tokens.issue(VIC, FUTURE_MS - 7200 * 1000)
    forged = TokenIssuer(b"another-secret-of-at-least-32-bytes!!", 3600).issue(VIC, FUTURE_MS)
    for password in (b"not-a-token", b"\xff", expired.encode(), forged.encode()):
        answer = _authorize(password)
        assert answer == {"isAuthenticated": False, "principalId": "refused", "policyDocuments": []}


def test_the_ingest_function_sends_through_the_chat_once(edge: Edge) -> None:
    edge.store.put_visitor(Visitor(VIC.id, "Vic", None, FUTURE_MS))
    event = aws_events.iot_ingest_event(b"hello", "room/a", "c1", "v01")
    first = mqtt_ingest.handler(event, None)
    again = mqtt_ingest.handler(event, None)  # a QoS 1 redelivery
    assert first == {"ok": True, "seq": 1, "duplicate": False}
    assert again == {"ok": True, "seq": 1, "duplicate": True}
    (stored,) = edge.store.read_after(Topic("room/a"), 0, 10, FUTURE_MS).messages
    assert (stored.text, stored.sender, stored.nickname) == ("hello", VIC.id, "Vic")


def test_the_ingest_function_drops_what_the_chat_refuses(edge: Edge) -> None:
    edge.store.put_visitor(Visitor(VIC.id, "Vic", None, FUTURE_MS))
    refused = [
        (aws_events.iot_ingest_event(b"hi", "desk/v_99", "c1", "v01"), "forbidden"),
        (aws_events.iot_ingest_event(b"hi", "room/a", "c1", "v99"), "forbidden"),
        (aws_events.iot_ingest_event(b"\xff", "room/a", "c1", "v01"), "bad_request"),
        (aws_events.iot_ingest_event(b"hi", "nowhere/a", "c1", "v01"), "bad_request"),
    ]
    for event, code in refused:
        assert mqtt_ingest.handler(event, None) == {"ok": False, "error": code}
    assert edge.store.read_after(Topic("desk/v_99"), 0, 10, FUTURE_MS).messages == []


def test_the_relay_publishes_each_message_once_on_its_topic(edge: Edge) -> None:
    """The relay publishes; the fan-out, reading the same record, only posts to WebSockets."""
    stored = edge.chat.send(VIC, "room/a", "hello", "m1").message
    record = aws_events.stream_record(message_item(stored), sequence_number="100")
    assert stream.handler(aws_events.stream_event([record]), None) == {"batchItemFailures": []}
    assert edge.broadcast.published == []
    assert relay.handler(aws_events.stream_event([record]), None) == {"batchItemFailures": []}
    ((topic, data),) = edge.broadcast.published
    assert topic == "room/a"
    assert json.loads(data) == {
        "type": "message",
        "topic": "room/a",
        "id": stored.id,
        "seq": 1,
        "ts": stored.ts,
        "from": "v_01",
        "nickname": "Vic",
        "role": "visitor",
        "text": "hello",
        "clientMsgId": "m1",
    }


def test_a_broker_that_fails_the_publish_fails_the_record(edge: Edge) -> None:
    stored = edge.chat.send(VIC, "room/a", "hello", "m1").message
    record = aws_events.stream_record(message_item(stored), sequence_number="100")
    edge.broadcast.fail = True
    response = relay.handler(aws_events.stream_event([record]), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "100"}]}


# -- the adapter and its configuration --------------------------------------------------------


def test_the_stack_condition_picks_the_broadcast(tmp_path: Path) -> None:
    base = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path), "TOKEN_TTL_SECONDS": "3600"}
    store = SqliteStore(tmp_path / "x.sqlite3", busy_timeout_ms=50)
    try:
        off = bootstrap.build_chat(base, store=store, push=RecordingPush())
        on = bootstrap.build_chat({**base, "IOT_FANOUT": "true"}, store=store, push=RecordingPush())
        assert isinstance(off.broadcast, NoBroadcast)
        assert isinstance(on.broadcast, IotDataBroadcast)
        assert (off.broadcast.enabled, on.broadcast.enabled) == (False, True)  # what the relay asks
    finally:
        store.close()


def test_an_edit_is_published_on_its_topic_as_edited(edge: Edge) -> None:
    """The relay publishes what WebSocket subscribers are pushed: an edit's ``edited``."""
    stored = edge.chat.send(VIC, "room/a", "hello", "m1").message
    edited = replace(stored, text="hello!", edited_at=stored.ts + 5)
    record = aws_events.stream_record(
        message_item(edited), sequence_number="101", event_name="MODIFY"
    )
    assert relay.handler(aws_events.stream_event([record]), None) == {"batchItemFailures": []}
    ((topic, data),) = edge.broadcast.published
    frame = json.loads(data)
    assert (topic, frame["type"], frame["text"], frame["id"]) == (
        "room/a",
        "edited",
        "hello!",
        stored.id,
    )


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_enable_mqtt_adds_or_leaves_out_the_whole_edge(enabled: str) -> None:
    """hubbub's template read as the runtime reads it: ``EnableMqtt=false`` leaves out the
    authorizer, the rule and their functions, and the relay that publishes to the broker (with
    email off, nothing else needs it); the fan-out never publishes either way."""
    template = Path(__file__).resolve().parents[2] / "template.yaml"
    app = load_app(template, parameter_overrides={"EnableMqtt": enabled})
    on = enabled == "true"
    assert "IOT_FANOUT" not in app.functions["FanOutFunction"].environment
    assert ("RelayFunction" in app.functions) is on
    if on:
        assert app.functions["RelayFunction"].environment["IOT_FANOUT"] == "true"
    assert ("MqttAuthorizerFunction" in app.functions) is on
    assert ("MqttIngestFunction" in app.functions) is on
    assert ("MqttPresenceFunction" in app.functions) is on
    assert bool(app.iot_authorizers) is on
    rules = {rule.name: rule for rule in app.topic_rules}
    presence = ["MqttPresenceFunctionDisconnects", "MqttPresenceFunctionSubscriptions"]
    assert sorted(rules) == (sorted(["hubbub", *presence]) if on else [])
    for name in presence if on else []:
        assert rules[name].functions == ("MqttPresenceFunction",)
