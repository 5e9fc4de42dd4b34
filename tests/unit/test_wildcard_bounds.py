"""Issue 15, item 4: wildcard filters amplified every message. Guests opened connections with
many distinct wildcard filters, and every room message read and matched every one of them. These
tests attack that way: the filters beyond each bound are refused with a typed error, and what one
message costs is counted (store lookups, trie steps), never timed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.ids import Topic, TopicFilter, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import Limits
from hubbub.store.port import Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import FUTURE_MS, SECRET, RecordingPush

OPERATOR = User(UserId("o_1"), Role.OPERATOR, "Olga")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = ChatSettings(
        max_wildcard_filters=40, limits=Limits(max_wildcards=5, max_guest_wildcards=2)
    )
    with world_in(tmp_path, settings) as w:
        yield w


def subscribe(world: World, cid: str, topic_filter: str) -> dict[str, Any]:
    return world.reply(cid, action="subscribe", topic=topic_filter, ref="r")


def test_guests_get_fewer_wildcard_filters_than_signed_in_users(world: World) -> None:
    """A guest's third distinct wildcard filter is forbidden, with a message that says why and
    what to do; a visitor has the larger share. Re-subscribing a filter held costs nothing."""
    world.connect("g")
    subscribe(world, "g", "room/+")
    subscribe(world, "g", "room/a/#")
    subscribe(world, "g", "room/+")
    refused = world.refusal("g", action="subscribe", topic="room/b/#")
    assert refused.code is ErrorCode.FORBIDDEN
    assert "at most 2 wildcard filters per guest connection" in refused.message
    subscribe(world, "g", "room/lobby")  # exact topics are not wildcard filters

    world.visitor("v")
    for name in "abcde":
        subscribe(world, "v", f"room/{name}/#")
    assert world.refusal("v", action="subscribe", topic="room/f/#").code is ErrorCode.FORBIDDEN


def test_unsubscribing_gives_the_share_back(world: World) -> None:
    world.connect("g")
    subscribe(world, "g", "room/a/#")
    subscribe(world, "g", "room/b/#")
    world.reply("g", action="unsubscribe", topic="room/a/#")
    subscribe(world, "g", "room/c/#")


@pytest.mark.parametrize(
    "topic_filter", ["room/+/+", "room/+/x", "room/a/b/#", "desk/+/+", "user/o_1/+/#"]
)
def test_a_filter_that_can_match_no_topic_is_refused(world: World, topic_filter: str) -> None:
    """Room, desk and inbox topics have two levels: a filter that needs more is bad_request, so
    the filters anchored at a class stay three (+, #, +/#) whoever subscribes."""
    world.connect("o", OPERATOR)
    refused = world.refusal("o", action="subscribe", topic=topic_filter)
    assert refused.code is ErrorCode.BAD_REQUEST
    assert "matches no topic" in refused.message


def test_the_attack_many_guests_by_many_filters_is_refused_beyond_the_bound(
    world: World,
) -> None:
    """Many guests each try many distinct wildcard filters: each gets its share until the
    deployment holds its bound of distinct filters; after that a new filter is refused for
    everyone, while filters already in use (room/+) are still accepted."""
    accepted: set[str] = set()
    refused_codes: list[ErrorCode] = []
    for guest in range(30):
        world.connect(f"g{guest}")
        for index in range(10):
            topic_filter = f"room/g{guest}x{index}/#"
            try:
                world.act(f"g{guest}", action="subscribe", topic=topic_filter)
                accepted.add(topic_filter)
            except ProtocolError as exc:
                refused_codes.append(exc.code)
    assert len(accepted) == 40  # the first 20 guests got their 2; the bound stops the rest
    assert set(refused_codes) == {ErrorCode.FORBIDDEN}
    assert len(world.store.wildcard_filters()) == 40
    refused = world.refusal("g25", action="subscribe", topic="room/fresh/#")
    assert "distinct wildcard filters" in refused.message
    world.connect("late")
    subscribe(world, "late", "room/g0x0/#")  # in use: adds nothing to the registry
    world.connect("o", OPERATOR)
    assert world.refusal("o", action="subscribe", topic="desk/+").code is ErrorCode.FORBIDDEN


class CountingStore(SqliteStore):
    """Counts what a message's fan-out reads: registry candidates and subscriber lookups."""

    candidates = 0
    lookups = 0

    def wildcard_filters_for(self, topic: Topic) -> list[TopicFilter]:
        found = super().wildcard_filters_for(topic)
        self.candidates += len(found)
        return found

    def subscriber_ids(self, topic_filter: TopicFilter) -> list[Any]:
        self.lookups += 1
        return super().subscriber_ids(topic_filter)


@pytest.mark.parametrize("others", [0, 10, 200])
def test_what_a_room_message_reads_does_not_grow_with_other_filters(
    tmp_path: Path, others: int
) -> None:
    """A message on room/lobby reads the same registry entries and makes the same subscriber
    lookups (room/lobby, room/+) whether 0 or 200 distinct filters are anchored at other rooms."""
    settings = ChatSettings(max_wildcard_filters=1000, limits=Limits(max_guest_wildcards=1))
    store = CountingStore(tmp_path / "chat.sqlite3")
    clock = ManualClock(FUTURE_MS)
    push = RecordingPush()
    world = World(Chat(store, push, clock, TokenIssuer(SECRET, 3600), settings), store, push, clock)
    try:
        world.connect("watcher")
        subscribe(world, "watcher", "room/+")
        for index in range(others):
            world.connect(f"g{index}")
            subscribe(world, f"g{index}", f"room/other{index}/#")
        world.visitor("v")
        world.send("v", "room/lobby", "hello", "c1")
        (message,) = world.stored("room/lobby")
        store.candidates = store.lookups = 0
        report = world.chat.deliver(message)
        assert report.delivered == 1
        assert (store.candidates, store.lookups) == (1, 2)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("env", "deployment", "signed_in", "guest"),
    [
        ({}, 1000, 10, 2),
        ({"MAX_WILDCARD_FILTERS": "50"}, 50, 10, 2),
        (
            {"MAX_WILDCARDS_PER_CONNECTION": "4", "MAX_GUEST_WILDCARDS_PER_CONNECTION": "0"},
            1000,
            4,
            0,
        ),
        ({"MAX_WILDCARD_FILTERS": ""}, 1000, 10, 2),
    ],
)
def test_the_bounds_are_chat_settings_read_from_the_environment(
    env: dict[str, str], deployment: int, signed_in: int, guest: int
) -> None:
    settings = ChatSettings.from_env(env)
    assert settings.max_wildcard_filters == deployment
    assert (settings.limits.max_wildcards, settings.limits.max_guest_wildcards) == (
        signed_in,
        guest,
    )
    assert settings.limits.public()["maxGuestWildcards"] == guest
