"""Presence, joined/left and typing (``hubbub.chat.presence`` through the chat service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.chat.settings import ChatSettings
from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import Post

VERA = User(UserId("v_vera"), Role.VISITOR, "Vera")
WES = User(UserId("v_wes"), Role.VISITOR, "Wes")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path, ChatSettings(typing_per_s=1.0, typing_burst=2)) as w:
        yield w


def pushed(world: World, kind: str) -> list[Post]:
    return world.push.frames_of_type(kind)


def test_joining_a_topic_is_announced_to_those_already_there(world: World) -> None:
    """A user's first subscription to a topic pushes joined to the others, not to itself."""
    world.connect("w", WES)
    world.reply("w", action="subscribe", topic="room/a")
    world.connect("v", VERA)
    world.reply("v", action="subscribe", topic="room/a")
    (post,) = pushed(world, "joined")
    assert post.connection_ids == ("w",)
    assert post.frame == {"type": "joined", "topic": "room/a", "user": VERA.public()}


def test_a_second_connection_of_the_same_user_is_not_announced(world: World) -> None:
    """joined is once per user, however many connections the user opens."""
    world.connect("w", WES)
    world.reply("w", action="subscribe", topic="room/a")
    world.connect("v1", VERA)
    world.reply("v1", action="subscribe", topic="room/a")
    world.connect("v2", VERA)
    world.reply("v2", action="subscribe", topic="room/a")
    assert len(pushed(world, "joined")) == 1


def test_presence_lists_each_user_once(world: World) -> None:
    """presence has one member per user, whatever their number of connections."""
    world.connect("v1", VERA)
    world.connect("v2", VERA)
    world.connect("w", WES)
    for cid in ("v1", "v2", "w"):
        world.reply(cid, action="subscribe", topic="room/a")
    reply = world.reply("w", action="presence", topic="room/a")
    assert reply == {
        "type": "presence",
        "topic": "room/a",
        "members": [VERA.public(), WES.public()],
    }


def test_leaving_is_announced_when_the_last_connection_goes(world: World) -> None:
    """left is pushed when a user's last connection leaves the topic, not before."""
    world.connect("w", WES)
    world.reply("w", action="subscribe", topic="room/a")
    world.connect("v1", VERA)
    world.connect("v2", VERA)
    world.reply("v1", action="subscribe", topic="room/a")
    world.reply("v2", action="subscribe", topic="room/a")
    world.reply("v1", action="unsubscribe", topic="room/a")
    assert pushed(world, "left") == []
    world.chat.disconnect(ConnectionId("v2"))
    (post,) = pushed(world, "left")
    assert post.connection_ids == ("w",)
    assert post.frame["user"] == VERA.public()


def test_presence_of_a_topic_the_user_may_not_read_is_forbidden(world: World) -> None:
    """A visitor may not list who is in another visitor's desk."""
    world.connect("v", VERA)
    assert world.refusal("v", action="presence", topic="desk/v_wes").code is ErrorCode.FORBIDDEN


def test_typing_is_pushed_to_the_others_and_not_stored(world: World) -> None:
    """typing reaches the topic's other subscribers, is not stored, and has no reply without
    a ref."""
    world.connect("w", WES)
    world.reply("w", action="subscribe", topic="room/a")
    world.connect("v", VERA)
    world.reply("v", action="subscribe", topic="room/a")
    assert world.act("v", action="typing", topic="room/a") is None
    (post,) = pushed(world, "typing")
    assert post.connection_ids == ("w",)
    assert post.frame == {"type": "typing", "topic": "room/a", "user": VERA.public()}
    assert world.stored("room/a") == []


def test_typing_too_often_is_rate_limited_with_retry_after(world: World) -> None:
    """Past its burst, typing is refused with rate_limited and a retryAfter; time refills it."""
    world.connect("v", VERA)
    world.act("v", action="typing", topic="room/a")
    world.act("v", action="typing", topic="room/a")
    error = world.refusal("v", action="typing", topic="room/a")
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.retry_after is not None
    assert 0 < error.retry_after <= 1.0
    world.clock.advance(1000)
    assert world.act("v", action="typing", topic="room/a") is None


def test_a_guest_may_not_type(world: World) -> None:
    """typing follows the send rules: a guest is refused."""
    world.connect("g")
    assert world.refusal("g", action="typing", topic="room/a").code is ErrorCode.FORBIDDEN
