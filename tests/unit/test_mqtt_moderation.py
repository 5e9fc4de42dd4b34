"""Moderation of MQTT members: a ban or a kick disconnects the user's MQTT clients from IoT
Core (the broker knows nothing of sanctions), and a ban stands in the authorizer's policy, so a
client that connects again can neither subscribe to the topic nor receive on it.

Sources: AWS IoT Core API reference, *DeleteConnection*; AWS IoT developer guide, *Defining
your authorizer's Lambda function* (``refreshAfterInSeconds``, at most 10 policy documents of
2,048 characters) and *IoT Core policies* (an explicit Deny overrides any Allow).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.moderation import banned_topics, mqtt_clients
from hubbub.chat.mqtt import (
    INGEST_RULE,
    MAX_BAN_DOCUMENTS,
    MAX_POLICY_CHARS,
    ban_policies,
    iot_policy,
)
from hubbub.chat.mqtt_members import member_connection
from hubbub.chat.service import Chat
from hubbub.clock import ManualClock
from hubbub.handlers import bootstrap, mqtt_authorizer, mqtt_presence
from hubbub.ids import ConnectionId, Topic, UserId
from hubbub.protocol.actions import parse_action
from hubbub.push.port import MqttHangup
from hubbub.runtime.iot.policy import PolicyContext, PolicySet, parse_policy
from hubbub.store.port import Connection, Operator, Role, Sanction, SanctionKind, User, Visitor
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support import aws_events
from tests.unit.fakes import FUTURE_MS, SECRET, RecordingPush

ARN = "arn:aws:iot:eu-west-1:111122223333"
ROOM = "room/a"
VIC = User(UserId("v_01"), Role.VISITOR, "Vic")
MAY = User(UserId("v_02"), Role.VISITOR, "May")
OLGA = User(UserId("o_01"), Role.OPERATOR, "Olga")


@dataclass
class RecordingHangup(MqttHangup):
    closed: list[list[str]] = field(default_factory=list)
    miss: bool = False

    def disconnect_clients(self, client_ids: Sequence[str]) -> set[str]:
        self.closed.append(list(client_ids))
        return set(client_ids) if self.miss else set()


@dataclass
class Edge:
    chat: Chat
    store: SqliteStore
    push: RecordingPush
    hangup: RecordingHangup
    clock: ManualClock


@dataclass
class Context:
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:111122223333:function:auth"


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Edge]:
    store = SqliteStore(tmp_path / "hubbub.sqlite3", busy_timeout_ms=50)
    (tmp_path / "token-secret").write_bytes(SECRET)
    env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path), "TOKEN_TTL_SECONDS": "3600"}
    push, hangup, clock = RecordingPush(), RecordingHangup(), ManualClock(FUTURE_MS)
    service = bootstrap.build_chat(env, store=store, clock=clock, push=push, mqtt_hangup=hangup)
    for user in (VIC, MAY):
        store.put_visitor(Visitor(user.id, str(user.nickname), None, 0))
    store.put_operator(Operator(OLGA.id, "Olga", 0))
    service.connect(ConnectionId("olga"), OLGA)
    bootstrap.use_chat(service)
    yield Edge(service, store, push, hangup, clock)
    bootstrap.use_chat(None)
    store.close()


def _subscribed(client_id: str, topics: list[str], principal: str = "v01") -> ConnectionId:
    """An MQTT client subscribing, through the presence function as the rule invokes it."""
    event = aws_events.iot_subscription_event(
        "subscribed", client_id, topics, principal=principal, session=f"s-{client_id}"
    )
    assert mqtt_presence.handler(event, None) == {"ok": True}
    return member_connection(client_id, f"s-{client_id}")


def _moderate(edge: Edge, user: User, sanction: str, topic: str = ROOM) -> dict[str, Any]:
    frame = {"action": "moderate", "topic": topic, "userId": user.id, "sanction": sanction}
    reply = edge.chat.handle(ConnectionId("olga"), parse_action(json.dumps(frame)))
    assert reply is not None and reply["type"] == "moderated", reply
    return reply


def _authorize(edge: Edge, user: User, client_id: str = "c1") -> dict[str, Any]:
    token = edge.chat.tokens.issue(user, edge.clock.now_ms())
    event = aws_events.iot_authorizer_event(client_id, token.encode())
    answer: dict[str, Any] = mqtt_authorizer.handler(event, Context())
    return answer


def _policies(answer: dict[str, Any], client_id: str = "c1") -> PolicySet:
    documents = [parse_policy(d) for d in answer["policyDocuments"]]
    return PolicySet(documents, PolicyContext("eu-west-1", "111122223333", client_id))


# -- the member's client id -----------------------------------------------------------------------


def test_a_members_connection_keeps_its_client_id(edge: Edge) -> None:
    member = _subscribed("paho/vic 1", [ROOM])
    stored = edge.store.get_connection(member)
    assert stored is not None and stored.client_id == "paho/vic 1"


# -- ban and kick disconnect ----------------------------------------------------------------------


@pytest.mark.parametrize("sanction", ["ban", "kick"])
def test_a_ban_or_kick_disconnects_the_users_mqtt_members_in_the_topic(
    edge: Edge, sanction: str
) -> None:
    _subscribed("vic-phone", [ROOM])
    _subscribed("vic-laptop", [ROOM, "room/b"])
    _subscribed("vic-elsewhere", ["room/b"])
    _subscribed("may-phone", [ROOM], principal="v02")
    _moderate(edge, VIC, sanction)
    assert edge.hangup.closed == [["vic-laptop", "vic-phone"]]
    may = member_connection("may-phone", "s-may-phone")
    assert edge.store.filters_of(may) == [ROOM]
    assert edge.store.filters_of(member_connection("vic-phone", "s-vic-phone")) == []
    assert edge.push.frames_of_type("moderated") == [], "an MQTT member is not pushed to"


@pytest.mark.parametrize("sanction", ["mute", "unmute", "unban"])
def test_other_sanctions_disconnect_nobody(edge: Edge, sanction: str) -> None:
    _subscribed("vic-phone", [ROOM])
    _moderate(edge, VIC, sanction)
    assert edge.hangup.closed == []


def test_a_ban_of_websocket_members_only_asks_iot_core_nothing(edge: Edge) -> None:
    edge.chat.connect(ConnectionId("ws"), VIC)
    edge.chat.handle(ConnectionId("ws"), _subscribe_action(ROOM))
    _moderate(edge, VIC, "ban")
    assert edge.hangup.closed == []
    (told,) = edge.push.frames_of_type("moderated")
    assert told.connection_ids == ("ws",)


def _subscribe_action(topic: str) -> Any:
    return parse_action(json.dumps({"action": "subscribe", "topic": topic}))


def test_a_disconnect_iot_core_missed_leaves_the_ban_standing_and_is_logged(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    member = _subscribed("vic-phone", [ROOM])
    edge.hangup.miss = True
    with caplog.at_level(logging.WARNING, "hubbub.chat.moderation"):
        _moderate(edge, VIC, "ban")
    assert edge.store.filters_of(member) == []
    assert "not disconnected" in caplog.text
    denied = _policies(_authorize(edge, VIC))
    assert not denied.can_subscribe(ROOM), "the policy holds the ban even so"


MEMBER = ConnectionId("mqtt:1")


@pytest.mark.parametrize(
    ("connections", "closed"),
    [
        ([], []),
        ([None], []),  # its disconnected event came first
        ([Connection(MEMBER, VIC, 1, 2)], []),  # stored before client ids were
        ([Connection(MEMBER, VIC, 1, 2, "b"), Connection(MEMBER, VIC, 1, 2, "a")], ["a", "b"]),
        ([Connection(MEMBER, VIC, 1, 2, "a"), Connection(MEMBER, VIC, 1, 2, "a")], ["a"]),
    ],
)
def test_mqtt_clients_closes_the_stored_client_ids(
    connections: list[Connection | None], closed: list[str]
) -> None:
    assert mqtt_clients(connections) == closed


# -- the authorizer's policy holds the ban --------------------------------------------------------


def _sanction(user: User, topic: str, kind: SanctionKind) -> Sanction:
    return Sanction(Topic(topic), user.id, kind, None, 0)


@pytest.mark.parametrize(
    ("user", "sanctions", "banned"),
    [
        (VIC, [], []),
        (VIC, [_sanction(VIC, "room/b", SanctionKind.BAN)], ["room/b"]),
        (VIC, [_sanction(VIC, "room/b", SanctionKind.MUTE)], []),
        (VIC, [_sanction(MAY, "room/b", SanctionKind.BAN)], []),
        (
            VIC,
            [
                _sanction(VIC, "room/z", SanctionKind.BAN),
                _sanction(VIC, "desk/v_01", SanctionKind.BAN),
            ],
            ["desk/v_01", "room/z"],
        ),
        (OLGA, [_sanction(OLGA, "room/b", SanctionKind.BAN)], []),
    ],
)
def test_banned_topics_are_the_users_bans(
    user: User, sanctions: list[Sanction], banned: list[str]
) -> None:
    assert banned_topics(user, sanctions) == banned


def test_a_banned_user_connecting_again_may_not_subscribe_receive_or_send_there(
    edge: Edge,
) -> None:
    _moderate(edge, VIC, "ban")
    answer = _authorize(edge, VIC)
    assert answer["isAuthenticated"] is True
    assert answer["refreshAfterInSeconds"] == 300
    vic = _policies(answer)
    assert not vic.can_subscribe(ROOM)
    assert vic.can_subscribe("room/+"), "a wildcard is allowed, and delivers nothing of room/a"
    assert not vic.can_receive(ROOM)
    assert not vic.can_publish(f"$aws/rules/{INGEST_RULE}/{ROOM}")
    assert vic.can_subscribe("room/b") and vic.can_receive("room/b")
    assert vic.can_publish(f"$aws/rules/{INGEST_RULE}/room/b")
    may = _policies(_authorize(edge, MAY))
    assert may.can_subscribe(ROOM) and may.can_receive(ROOM)


def test_the_refresh_after_an_unban_or_the_bans_end_allows_the_topic_again(edge: Edge) -> None:
    _moderate(edge, VIC, "ban")
    _moderate(edge, VIC, "unban")
    assert _policies(_authorize(edge, VIC)).can_receive(ROOM)
    frame = {"action": "moderate", "topic": ROOM, "userId": VIC.id, "sanction": "ban"}
    edge.chat.handle(ConnectionId("olga"), parse_action(json.dumps({**frame, "seconds": 60})))
    assert not _policies(_authorize(edge, VIC)).can_receive(ROOM)
    edge.clock.advance(61_000)
    assert _policies(_authorize(edge, VIC)).can_receive(ROOM)


def test_an_unbanned_users_answer_is_the_chat_policy_alone(edge: Edge) -> None:
    _moderate(edge, MAY, "ban")
    (document,) = _authorize(edge, VIC)["policyDocuments"]
    assert json.loads(document) == iot_policy(VIC, ARN)


def test_many_bans_are_split_into_documents_iot_core_takes() -> None:
    topics = [Topic(f"room/{'x' * 60}{n:03d}") for n in range(40)]
    documents = ban_policies(topics, ARN)
    assert 1 < len(documents) <= MAX_BAN_DOCUMENTS
    assert all(len(json.dumps(d)) <= MAX_POLICY_CHARS for d in documents)
    denied = PolicySet(
        [parse_policy(iot_policy(VIC, ARN)), *(parse_policy(d) for d in documents)],
        PolicyContext("eu-west-1", "111122223333", "c1"),
    )
    assert not any(denied.can_receive(t) or denied.can_subscribe(t) for t in topics)
    assert denied.can_receive("room/other")


def test_more_bans_than_the_answer_can_state_refuse_the_connection(edge: Edge) -> None:
    for n in range(120):
        edge.store.put_sanction(
            Sanction(Topic(f"room/{'y' * 60}{n:03d}"), VIC.id, SanctionKind.BAN, None, 0)
        )
    assert _authorize(edge, VIC)["isAuthenticated"] is False
    assert _authorize(edge, MAY)["isAuthenticated"] is True
