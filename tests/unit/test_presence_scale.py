"""Presence at scale (issue 18, item 4): a room over the threshold pushes a throttled summary
instead of ``joined``/``left`` per member, and answers ``presence`` with a count and a page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.chat.presence import is_large
from hubbub.chat.settings import ChatSettings
from hubbub.ids import ConnectionId, Topic, UserId
from hubbub.protocol.errors import ProtocolError
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in

ROOM = "room/big"
THRESHOLD = 3
EVERY_S = 5.0


def member(n: int) -> User:
    return User(UserId(f"v_{n:03d}"), Role.VISITOR, f"M{n:03d}")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = ChatSettings(presence_threshold=THRESHOLD, presence_summary_every_s=EVERY_S)
    with world_in(tmp_path, settings) as w:
        yield w


def join(world: World, n: int) -> None:
    world.connect(f"c{n}", member(n))
    world.reply(f"c{n}", action="subscribe", topic=ROOM)


def kinds(world: World) -> list[str]:
    return [p.frame["type"] for p in world.push.posts]


@pytest.mark.parametrize(
    ("size", "threshold", "large"),
    [
        (0, 100, False),
        (100, 100, False),  # a room of exactly the threshold still gets joined/left
        (101, 100, True),
        (1, 0, True),  # threshold 0: every room is summarised
        (5, 5, False),
        (6, 5, True),
    ],
)
def test_is_large_at_the_edges(size: int, threshold: int, large: bool) -> None:
    assert is_large(size, threshold) is large


def test_joins_up_to_the_threshold_are_announced_then_summarised(world: World) -> None:
    """Members 2..THRESHOLD are announced one by one; the one that makes the room large is not,
    the first summary goes out at once with the new count, and the next joins inside the window
    push nothing."""
    for n in range(1, THRESHOLD + 1):
        join(world, n)
    assert kinds(world) == ["joined"] * (THRESHOLD - 1)
    world.push.posts.clear()

    join(world, THRESHOLD + 1)
    (summary,) = world.push.posts
    assert summary.frame == {"type": "presence", "topic": ROOM, "count": THRESHOLD + 1}
    assert set(summary.connection_ids) == {f"c{n}" for n in range(1, THRESHOLD + 2)}

    for n in range(THRESHOLD + 2, THRESHOLD + 8):
        world.clock.advance(500)
        join(world, n)
    assert len(world.push.posts) == 1, "no joined, and no second summary inside the window"


def test_a_summary_per_window_while_the_count_changes(world: World) -> None:
    """At most one summary per window; a change after the window ends pushes the next one, with
    the count of that moment (the changes in between included)."""
    for n in range(1, THRESHOLD + 2):
        join(world, n)
    world.push.posts.clear()
    world.clock.advance(int(EVERY_S * 1000) - 1)
    join(world, 10)
    assert world.push.posts == [], "one millisecond short of the window"
    world.clock.advance(1)
    join(world, 11)
    (summary,) = world.push.posts
    assert summary.frame["count"] == THRESHOLD + 3
    world.clock.advance(1000)
    world.chat.disconnect(ConnectionId("c11"))
    assert len(world.push.posts) == 1, "a leave inside the window pushes nothing either"
    world.clock.advance(int(EVERY_S * 1000))
    world.chat.disconnect(ConnectionId("c10"))
    assert [p.frame for p in world.push.posts[1:]] == [
        {"type": "presence", "topic": ROOM, "count": THRESHOLD + 1}
    ]


def test_leaving_a_large_room_is_summarised_and_a_small_one_announced(world: World) -> None:
    for n in range(1, THRESHOLD + 2):
        join(world, n)
    world.clock.advance(int(EVERY_S * 1000))
    world.push.posts.clear()
    world.reply("c1", action="unsubscribe", topic=ROOM)
    assert kinds(world) == ["presence"], "the room was large counting the one who left"
    world.push.posts.clear()
    world.chat.disconnect(ConnectionId("c2"))
    assert kinds(world) == ["left"], "a room of THRESHOLD - 1 gets left again"


def test_a_new_name_in_a_large_room_is_not_announced(world: World) -> None:
    for n in range(1, THRESHOLD + 2):
        join(world, n)
    world.push.posts.clear()
    world.reply("c1", action="register", nickname="Renamed")
    assert kinds(world) == []


def test_presence_of_a_large_room_is_a_count_and_bounded_pages(world: World) -> None:
    for n in range(1, THRESHOLD + 6):
        join(world, n)
    first = world.reply("c1", action="presence", topic=ROOM, limit=4)
    assert first["count"] == THRESHOLD + 5
    assert first["large"] is True
    assert first["hasMore"] is True
    assert len(first["members"]) == 4
    rest = world.reply("c1", action="presence", topic=ROOM, limit=4, after=first["next"])
    assert rest["hasMore"] is False
    assert "next" not in rest
    ids = [m["id"] for m in first["members"] + rest["members"]]
    assert ids == [member(n).id for n in range(1, THRESHOLD + 6)]


def test_an_unpaged_request_of_a_large_room_gets_the_largest_page(world: World) -> None:
    for n in range(1, THRESHOLD + 3):
        join(world, n)
    reply = world.reply("c1", action="presence", topic=ROOM)
    assert reply["count"] == THRESHOLD + 2
    assert len(reply["members"]) == THRESHOLD + 2
    assert reply["hasMore"] is False


def test_a_page_is_bounded_by_the_protocol(world: World) -> None:
    world.connect("c1", member(1))
    with pytest.raises(ProtocolError):
        world.act("c1", action="presence", topic=ROOM, limit=101)
    with pytest.raises(ProtocolError):
        world.act("c1", action="presence", topic=ROOM, after="x" * 129)


def test_a_small_room_answers_as_before_unless_paged(world: World) -> None:
    for n in range(1, THRESHOLD + 1):
        join(world, n)
    reply = world.reply("c1", action="presence", topic=ROOM)
    assert set(reply) == {"type", "topic", "members"}
    paged = world.reply("c1", action="presence", topic=ROOM, limit=2)
    assert paged["count"] == THRESHOLD
    assert paged["large"] is False
    assert len(paged["members"]) == 2


def test_deciding_does_not_walk_a_large_room(world: World) -> None:
    """Joining a large room reads its head count, never its member list."""
    for n in range(1, THRESHOLD + 2):
        join(world, n)
    walked: list[str] = []
    original = world.store.subscribers

    def recording(topic_filter: str) -> object:
        walked.append(topic_filter)
        return original(topic_filter)  # type: ignore[arg-type]

    world.store.subscribers = recording  # type: ignore[method-assign,assignment]
    join(world, 50)
    world.chat.disconnect(ConnectionId("c50"))
    assert ROOM not in walked
    assert world.store.member_count(Topic(ROOM)) == THRESHOLD + 1


def test_settings_come_from_the_environment() -> None:
    settings = ChatSettings.from_env({"PRESENCE_THRESHOLD": "5", "PRESENCE_SUMMARY_SECONDS": "2"})
    assert (settings.presence_threshold, settings.presence_summary_every_s) == (5, 2.0)
    assert ChatSettings.from_env({}).presence_threshold == 100
    assert ChatSettings.from_env({}).presence_summary_every_s == 5.0


def test_typing_is_relayed_in_a_small_room_and_not_in_a_large_one(world: World) -> None:
    """In a large room each member's typing would be a post to every other member: it is not
    relayed, and a typing frame with a ref still gets its reply."""
    for n in range(1, THRESHOLD + 1):
        join(world, n)
    world.push.posts.clear()
    world.act("c1", action="typing", topic=ROOM)
    (typing,) = world.push.posts
    assert typing.frame["type"] == "typing"
    assert set(typing.connection_ids) == {f"c{n}" for n in range(2, THRESHOLD + 1)}

    join(world, THRESHOLD + 1)
    world.push.posts.clear()
    world.clock.advance(2000)  # past the typing allowance
    reply = world.reply("c1", action="typing", topic=ROOM, ref="t1")
    assert reply["type"] == "typing"
    assert world.push.posts == []
