"""MQTT clients as members (issue 14, item 2): IoT Core's subscribe, unsubscribe and disconnect
lifecycle events make an MQTT client present in a topic exactly as a WebSocket subscribe does.

Source: AWS IoT developer guide, *Lifecycle events* ("Subscribe/Unsubscribe events", the
``disconnected`` event's fields, and "Lifecycle messages might be sent out of order. You might
receive duplicate messages.").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.mqtt import typing_topic
from hubbub.chat.mqtt_members import (
    Lifecycle,
    LifecycleKind,
    member_connection,
    parse_lifecycle,
)
from hubbub.chat.settings import ChatSettings
from hubbub.handlers import bootstrap, mqtt_ingest, mqtt_presence
from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Operator, Role, User, Visitor
from tests.support import aws_events
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import FUTURE_MS

ROOM = "room/lobby"
VIC = User(UserId("v_01"), Role.VISITOR, "Vic")
OLGA = User(UserId("o_01"), Role.OPERATOR, "Olga")
T0 = FUTURE_MS


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path, ChatSettings(presence_threshold=3)) as w:
        w.store.put_visitor(Visitor(VIC.id, "Vic", None, 0))
        w.store.put_operator(Operator(OLGA.id, "Olga", 0))
        bootstrap.use_chat(w.chat)
        yield w
        bootstrap.use_chat(None)


def _lifecycle(event: dict[str, Any]) -> dict[str, Any]:
    """Through the Lambda handler, as the rule invokes it."""
    answer: dict[str, Any] = mqtt_presence.handler(event, None)
    return answer


def subscribed(topics: list[str], **kw: Any) -> dict[str, Any]:
    return _lifecycle(aws_events.iot_subscription_event("subscribed", "dev-1", topics, **kw))


def unsubscribed(topics: list[str], **kw: Any) -> dict[str, Any]:
    return _lifecycle(aws_events.iot_subscription_event("unsubscribed", "dev-1", topics, **kw))


def disconnected(**kw: Any) -> dict[str, Any]:
    return _lifecycle(aws_events.iot_disconnected_event("dev-1", **kw))


def frames(world: World, kind: str) -> list[dict[str, Any]]:
    return [p.frame for p in world.push.frames_of_type(kind)]


def members(world: World, cid: str = "ws") -> list[dict[str, Any]]:
    reply = world.reply(cid, action="presence", topic=ROOM)
    return list(reply["members"])


def listener(world: World) -> ConnectionId:
    """A WebSocket member of the room, the one who sees the MQTT member come and go."""
    world.connect("ws", User(UserId("v_99"), Role.VISITOR, "Wes"))
    world.reply("ws", action="subscribe", topic=ROOM)
    world.push.posts.clear()
    return ConnectionId("ws")


def test_a_subscribe_event_makes_the_client_present_as_a_websocket_subscribe_does(
    world: World,
) -> None:
    ws = listener(world)
    assert subscribed([ROOM], timestamp_ms=T0) == {"ok": True}
    (joined,) = frames(world, "joined")
    assert joined == {"type": "joined", "topic": ROOM, "user": VIC.public()}
    assert world.push.frames_of_type("joined")[0].connection_ids == (ws,)
    assert VIC.public() in members(world)


def test_unsubscribe_and_disconnect_are_left(world: World) -> None:
    listener(world)
    subscribed([ROOM, "room/other"], timestamp_ms=T0)
    unsubscribed([ROOM], timestamp_ms=T0 + 1)
    assert frames(world, "left") == [{"type": "left", "topic": ROOM, "user": VIC.public()}]
    assert VIC.public() not in members(world)
    world.connect("ws2", User(UserId("v_98"), Role.VISITOR, "Wyn"))
    world.reply("ws2", action="subscribe", topic="room/other")
    world.push.posts.clear()
    disconnected(timestamp_ms=T0 + 2)
    assert frames(world, "left") == [{"type": "left", "topic": "room/other", "user": VIC.public()}]
    assert world.store.get_connection(member_connection("dev-1", aws_events_session())) is None


def aws_events_session() -> str:
    return str(aws_events.iot_disconnected_event("x")["sessionIdentifier"])


def test_the_same_user_on_both_edges_joins_once_and_leaves_with_the_last(world: World) -> None:
    ws = listener(world)
    world.connect("vic-ws", VIC)
    world.reply("vic-ws", action="subscribe", topic=ROOM)
    assert len(frames(world, "joined")) == 1
    subscribed([ROOM], timestamp_ms=T0)  # Vic again, over MQTT: already present
    assert len(frames(world, "joined")) == 1
    world.act("vic-ws", action="unsubscribe", topic=ROOM)  # still present over MQTT
    assert frames(world, "left") == []
    disconnected(timestamp_ms=T0 + 1)
    assert frames(world, "left") == [{"type": "left", "topic": ROOM, "user": VIC.public()}]
    assert ws in world.push.frames_of_type("left")[0].connection_ids


def test_a_message_is_never_posted_to_an_mqtt_member(world: World) -> None:
    """The broker delivers to MQTT clients; a post to ``@connections`` would answer 410."""
    listener(world)
    subscribed([ROOM], timestamp_ms=T0)
    world.visitor("sender", "Sam")
    world.reply("sender", action="subscribe", topic=ROOM)
    world.send("sender", ROOM, "hi", "k1")
    (message,) = world.stored(ROOM)
    world.push.posts.clear()
    world.chat.deliver(message)
    (post,) = world.push.posts
    assert sorted(post.connection_ids) == ["sender", "ws"]


def test_duplicates_change_nothing(world: World) -> None:
    listener(world)
    for _ in range(2):
        subscribed([ROOM], timestamp_ms=T0)
    for _ in range(2):
        disconnected(timestamp_ms=T0 + 5)
    assert len(frames(world, "joined")) == 1
    assert len(frames(world, "left")) == 1


def test_a_subscribe_handled_after_its_sessions_disconnect_is_ignored(world: World) -> None:
    """Out of order: the disconnect (later) is handled first; the subscribe makes no ghost."""
    listener(world)
    disconnected(timestamp_ms=T0 + 10)
    subscribed([ROOM], timestamp_ms=T0 + 3)
    assert frames(world, "joined") == []
    assert VIC.public() not in members(world)
    # a persistent session that comes back later is present again when it subscribes
    subscribed([ROOM], timestamp_ms=T0 + 20)
    assert len(frames(world, "joined")) == 1


def test_a_newer_connection_of_the_same_client_id_survives_the_older_ones_disconnect(
    world: World,
) -> None:
    listener(world)
    subscribed([ROOM], session="old", timestamp_ms=T0)
    subscribed([ROOM], session="new", timestamp_ms=T0 + 1)
    disconnected(session="old", reason="DUPLICATE_CLIENTID", timestamp_ms=T0 + 2)
    assert frames(world, "left") == []
    assert VIC.public() in members(world)


@pytest.mark.parametrize("topic_filter", ["room/+", "room/#", "$sys/operators", "desk/v_01"])
def test_only_exact_topics_that_make_presence_do(world: World, topic_filter: str) -> None:
    """As on the WebSocket: wildcards and system topics make nobody present; a visitor's own
    desk does (the operator following it sees them)."""
    subscribed([topic_filter], timestamp_ms=T0)
    cid = member_connection("dev-1", aws_events_session())
    expected = [topic_filter] if topic_filter == "desk/v_01" else []
    assert world.store.filters_of(cid) == expected


def test_a_banned_user_is_not_present(world: World) -> None:
    world.connect("op", OLGA)
    world.reply("op", action="moderate", topic=ROOM, userId=VIC.id, sanction="ban")
    subscribed([ROOM], timestamp_ms=T0)
    assert VIC.public() not in members(world, "op")


def test_a_guest_is_present_by_its_principal(world: World) -> None:
    listener(world)
    subscribed([ROOM], principal="g0a1b", timestamp_ms=T0)
    guest = {"id": "g_0a1b", "role": "guest", "nickname": None}
    assert frames(world, "joined") == [{"type": "joined", "topic": ROOM, "user": guest}]


def test_an_unknown_principal_is_dropped(world: World) -> None:
    answer = subscribed([ROOM], principal="v77", timestamp_ms=T0)
    assert answer == {"ok": False, "error": "forbidden"}
    assert members(world, listener(world)) == [{"id": "v_99", "role": "visitor", "nickname": "Wes"}]


def test_an_operator_over_mqtt_is_online(world: World) -> None:
    """Subscribed to anything, an operator is online on ``$sys/operators``, as over the
    WebSocket; its disconnect takes it offline."""
    world.connect("w", User(UserId("v_50"), Role.VISITOR, "Wid"))
    world.reply("w", action="subscribe", topic="$sys/operators")
    subscribed(["desk/+"], principal="o01", timestamp_ms=T0)
    (online,) = frames(world, "operators")
    assert online["operatorsOnline"] == 1
    disconnected(principal="o01", timestamp_ms=T0 + 1)
    assert [f["operatorsOnline"] for f in frames(world, "operators")] == [1, 0]


def test_a_large_room_gets_the_summary(world: World) -> None:
    """Over the threshold (3), an MQTT member's arrival is a count, as a WebSocket one's is."""
    listener(world)
    for n in range(2):
        world.connect(f"m{n}", User(UserId(f"v_1{n}"), Role.VISITOR, f"M{n}"))
        world.reply(f"m{n}", action="subscribe", topic=ROOM)
    world.push.posts.clear()
    subscribed([ROOM], timestamp_ms=T0)
    assert frames(world, "joined") == []
    assert frames(world, "presence") == [{"type": "presence", "topic": ROOM, "count": 4}]


def test_parse_lifecycle_reads_the_documented_fields() -> None:
    event = aws_events.iot_subscription_event("subscribed", "c", ["room/a"], timestamp_ms=7)
    assert parse_lifecycle(event) == Lifecycle(
        LifecycleKind.SUBSCRIBED, "c", str(event["sessionIdentifier"]), "v01", 7, ("room/a",)
    )
    gone = parse_lifecycle(aws_events.iot_disconnected_event("c", timestamp_ms=8))
    assert (gone.kind, gone.topics, gone.timestamp_ms) == (LifecycleKind.DISCONNECTED, (), 8)


@pytest.mark.parametrize(
    "change",
    [
        {"eventType": "connected"},
        {"eventType": None},
        {"clientId": ""},
        {"sessionIdentifier": 5},
        {"principalIdentifier": None},
        {"timestamp": "now"},
        {"topics": "room/a"},
        {"topics": [1]},
    ],
)
def test_parse_lifecycle_refuses_what_it_cannot_read(change: dict[str, Any]) -> None:
    event = {**aws_events.iot_subscription_event("subscribed", "c", ["room/a"]), **change}
    with pytest.raises(ProtocolError) as refused:
        parse_lifecycle(event)
    assert refused.value.code is ErrorCode.BAD_REQUEST


def test_member_connection_ids_never_look_like_api_gateway_ids() -> None:
    cid = member_connection("any client id with spaces / and # signs", "s")
    assert cid.startswith("mqtt:") and len(cid) == len("mqtt:") + 32
    assert member_connection("a", "s1") != member_connection("a", "s2")


# -- typing over MQTT: {"type": "typing"} through Basic Ingest ---------------------------------


def _typing(topic: str = ROOM, principal: str = "v01") -> dict[str, Any]:
    event = aws_events.iot_ingest_event(b'{"type": "typing"}', topic, "dev-1", principal)
    answer: dict[str, Any] = mqtt_ingest.handler(event, None)
    return answer


def test_an_mqtt_typing_notice_is_typing_for_websocket_members_and_stores_nothing(
    world: World,
) -> None:
    ws = listener(world)
    assert _typing() == {"ok": True, "typing": True}
    (post,) = world.push.frames_of_type("typing")
    assert post.frame == {"type": "typing", "topic": ROOM, "user": VIC.public()}
    assert post.connection_ids == (ws,)
    assert world.stored(ROOM) == []


def test_mqtt_typing_is_checked_and_limited_as_websocket_typing_is(world: World) -> None:
    listener(world)
    assert _typing(topic="desk/v_99") == {"ok": False, "error": "forbidden"}  # not theirs
    assert _typing(principal="g0a") == {"ok": False, "error": "forbidden"}  # a guest
    answers = [_typing() for _ in range(10)]  # the typing allowance, 2 a second
    assert {"ok": False, "error": "rate_limited"} in answers
    assert len(frames(world, "typing")) == answers.count({"ok": True, "typing": True})


@pytest.mark.parametrize(
    ("payload", "typing"),
    [
        (b'{"type": "typing"}', True),
        (b'{"type": "typing", "text": "hi"}', False),  # a send that happens to say so
        (b'{"text": "hi"}', False),
        (b"typing", False),
        (b'["typing"]', False),
        (b"\xff", False),
    ],
)
def test_typing_topic_reads_only_the_typing_notice(payload: bytes, typing: bool) -> None:
    event = aws_events.iot_ingest_event(payload, ROOM, "dev-1", "v01")
    assert typing_topic(event) == (ROOM if typing else None)


def test_an_unsubscribe_handled_before_its_subscribe_leaves_no_member(world: World) -> None:
    """Out of order within a session: the unsubscribe (later) first, then its subscribe; the
    client is in the other room it subscribed to, not in this one. A later subscribe to the
    room counts again."""
    listener(world)
    unsubscribed([ROOM], timestamp_ms=T0 + 5)
    subscribed([ROOM, "room/other"], timestamp_ms=T0 + 1)
    assert frames(world, "joined") == []
    assert VIC.public() not in members(world)
    cid = member_connection("dev-1", aws_events_session())
    assert world.store.filters_of(cid) == ["room/other"]
    subscribed([ROOM], timestamp_ms=T0 + 9)
    assert len(frames(world, "joined")) == 1
