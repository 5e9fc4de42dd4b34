"""moderate and sanctions (issue 19, item 2): every sanction, every refusal, expiry and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.fanout import Change
from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode
from hubbub.store.port import Operator, Role, User
from tests.unit.chatworld import World, make_world, world_in

OLGA = User(UserId("o_1"), Role.OPERATOR, "Olga")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def staffed(world: World) -> str:
    """A visitor ``v`` in room/a with an operator ``o`` connected; returns the visitor's id."""
    visitor: str = world.visitor("v")["id"]
    world.reply("v", action="subscribe", topic="room/a")
    world.connect("o", OLGA)
    return visitor


def moderate(world: World, user_id: str, sanction: str, **more: Any) -> dict[str, Any]:
    return world.reply(
        "o", action="moderate", topic="room/a", userId=user_id, sanction=sanction, **more
    )


def test_a_muted_user_may_not_send_type_or_edit_but_still_reads(world: World) -> None:
    vid = staffed(world)
    ack = world.send("v", "room/a", "before", "c0")
    reply = moderate(world, vid, "mute")
    assert reply == {
        "type": "moderated",
        "topic": "room/a",
        "userId": vid,
        "sanction": "mute",
        "until": None,
    }
    for frame in (
        {"action": "send", "text": "hi", "clientMsgId": "c1"},
        {"action": "typing"},
        {"action": "edit", "id": ack["id"], "text": "changed"},
    ):
        assert world.refusal("v", topic="room/a", **frame).code is ErrorCode.FORBIDDEN
    assert world.reply("v", action="history", topic="room/a")["messages"]
    world.send("v", "room/b", "elsewhere is fine", "c2")
    moderate(world, vid, "unmute")
    world.send("v", "room/a", "back", "c3")


def test_a_ban_unsubscribes_at_once_and_refuses_subscribe_history_and_send(world: World) -> None:
    vid = staffed(world)
    world.reply("o", action="subscribe", topic="room/a")
    world.push.posts.clear()
    moderate(world, vid, "ban", seconds=60)
    assert world.store.filters_of(ConnectionId("v")) == []
    (left,) = world.push.frames_of_type("left")
    assert left.frame["user"]["id"] == vid and left.connection_ids == ("o",)
    (told,) = world.push.frames_of_type("moderated")
    assert told.connection_ids == ("v",) and told.frame["sanction"] == "ban"
    for frame in (
        {"action": "subscribe"},
        {"action": "history"},
        {"action": "send", "text": "hi", "clientMsgId": "c1"},
    ):
        assert world.refusal("v", topic="room/a", **frame).code is ErrorCode.FORBIDDEN
    world.reply("v", action="subscribe", topic="room/b")


def test_a_kick_unsubscribes_and_the_user_may_come_back(world: World) -> None:
    vid = staffed(world)
    reply = moderate(world, vid, "kick")
    assert "until" not in reply
    assert world.store.filters_of(ConnectionId("v")) == []
    world.reply("v", action="subscribe", topic="room/a")
    world.send("v", "room/a", "I'm back", "c1")


def test_sanctions_expire_by_their_seconds(world: World) -> None:
    vid = staffed(world)
    reply = moderate(world, vid, "ban", seconds=30)
    assert reply["until"] == world.clock.now_ms() + 30_000
    assert world.refusal("v", action="history", topic="room/a").code is ErrorCode.FORBIDDEN
    world.clock.advance(30_000)
    world.reply("v", action="history", topic="room/a")
    assert world.reply("o", action="sanctions")["sanctions"] == []


def test_sanctions_survive_a_restart_and_are_listed_and_lifted(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    vid = staffed(world)
    moderate(world, vid, "mute", seconds=3600)
    world.reply("o", action="moderate", topic="room/b", userId=vid, sanction="ban")
    world.store.close()
    again = make_world(tmp_path)
    try:
        again.connect("o", OLGA)
        listed = again.reply("o", action="sanctions")["sanctions"]
        assert [(s["topic"], s["userId"], s["sanction"]) for s in listed] == [
            ("room/a", vid, "mute"),
            ("room/b", vid, "ban"),
        ]
        only_a = again.reply("o", action="sanctions", topic="room/a")
        assert only_a["topic"] == "room/a" and len(only_a["sanctions"]) == 1
        again.reply("o", action="moderate", topic="room/b", userId=vid, sanction="unban")
        assert len(again.reply("o", action="sanctions")["sanctions"]) == 1
    finally:
        again.store.close()


@pytest.mark.parametrize("action", ["moderate", "sanctions"])
def test_only_operators_moderate_or_list(world: World, action: str) -> None:
    staffed(world)
    world.visitor("x", "Xena")
    fields: dict[str, Any] = {"action": action}
    if action == "moderate":
        fields.update(topic="room/a", userId="v_1", sanction="mute")
    assert world.refusal("x", **fields).code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"userId": "o_1", "sanction": "ban"}, ErrorCode.FORBIDDEN),
        ({"userId": "v_1", "sanction": "kick", "seconds": 5}, ErrorCode.BAD_REQUEST),
        ({"userId": "v_1", "sanction": "unmute", "seconds": 5}, ErrorCode.BAD_REQUEST),
        ({"userId": "v_1", "sanction": "mute", "topic": "$sys/operators"}, ErrorCode.BAD_REQUEST),
        ({"userId": "v_1", "sanction": "mute", "topic": "room/+"}, ErrorCode.BAD_REQUEST),
    ],
    ids=["an operator", "a kick that lasts", "an unmute that lasts", "a system topic", "a filter"],
)
def test_moderation_refusals(world: World, fields: dict[str, Any], code: ErrorCode) -> None:
    world.connect("o", OLGA)
    world.store.put_operator(Operator(UserId("o_1"), "Olga", 0))
    frame = {"action": "moderate", "topic": "room/a", **fields}
    assert world.refusal("o", **frame).code is code
    assert world.store.list_sanctions(None, world.clock.now_ms()) == []


def test_operators_are_never_checked_and_others_pay_one_read(world: World) -> None:
    """The send path reads the sender's sanctions once, and not at all for an operator."""
    vid = staffed(world)
    calls: list[str] = []
    real = world.store.sanctions_on

    def counting(topic: Any, user_id: Any, now_ms: int) -> Any:
        calls.append(user_id)
        return real(topic, user_id, now_ms)

    world.store.sanctions_on = counting  # type: ignore[method-assign]
    world.send("v", "room/a", "hi", "c1")
    world.send("o", "room/a", "hello", "c2")
    assert calls == [vid]


def test_a_ban_keeps_a_wildcard_subscription_from_delivering_the_banned_topic(
    world: World,
) -> None:
    """``room/+`` also covers rooms the user is not banned from, so it stays; what it would
    deliver of the banned room is left out until the ban ends."""
    vid = staffed(world)
    world.reply("v", action="subscribe", topic="room/+")
    world.visitor("w", "Wes")
    moderate(world, vid, "ban", seconds=60)

    def delivered_to_v(topic: str, text: str, cmid: str) -> bool:
        world.push.posts.clear()
        world.send("w", topic, text, cmid)
        (message,) = world.stored(topic)[-1:]
        world.chat.deliver_batch([Change(message)])
        return any(
            p.frame.get("text") == text and "v" in p.connection_ids for p in world.push.posts
        )

    assert not delivered_to_v("room/a", "behind the ban", "w1")
    assert delivered_to_v("room/b", "elsewhere", "w2")
    world.clock.advance(60_000)
    assert delivered_to_v("room/a", "after the ban", "w3")
