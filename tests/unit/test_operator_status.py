"""Live operator status: ``operators`` events on ``$sys/operators`` (through the chat service).

The number of operators online changes when an operator's first connection opens or their last
one closes, however it closes: ``$disconnect``, or found gone (410) by a push and forgotten.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.chat.service import Chat
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode
from hubbub.store.port import Connection, Role, StoreUnavailable, User
from hubbub.store.sqlite.adapter import SqliteStore
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import FUTURE_MS, SECRET, Post, RecordingPush

OPERATORS = "$sys/operators"
OLGA = User(UserId("o_olga"), Role.OPERATOR, "Olga")
OTTO = User(UserId("o_otto"), Role.OPERATOR, "Otto")
VERA = User(UserId("v_vera"), Role.VISITOR, "Vera")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def follower(world: World, cid: str, user: User | None = None) -> dict[str, object]:
    """A connection that follows ``$sys/operators``: the subscribe reply."""
    world.connect(cid, user)
    return world.reply(cid, action="subscribe", topic=OPERATORS)


def statuses(world: World) -> list[Post]:
    return world.push.frames_of_type("operators")


def test_an_operators_first_connection_is_announced_to_the_followers_only(world: World) -> None:
    """The first connection of an operator pushes operators 1 to the followers of
    $sys/operators, and to nobody else (not to a room's subscribers)."""
    follower(world, "g")
    follower(world, "v", VERA)
    world.connect("r")
    world.reply("r", action="subscribe", topic="room/lobby")
    world.connect("o1", OLGA)
    (post,) = statuses(world)
    assert sorted(post.connection_ids) == ["g", "v"]
    assert post.frame == {"type": "operators", "operatorsOnline": 1, "operatorLastSeen": FUTURE_MS}


def test_a_second_connection_of_the_same_operator_is_not_announced(world: World) -> None:
    """Operators are counted once however many connections they open; another operator
    counts."""
    follower(world, "g")
    world.connect("o1", OLGA)
    world.connect("o2", OLGA)
    assert len(statuses(world)) == 1
    world.connect("p1", OTTO)
    assert [p.frame["operatorsOnline"] for p in statuses(world)] == [1, 2]


def test_the_last_connection_of_the_last_operator_announces_zero_and_when(world: World) -> None:
    """Closing one of two connections changes nothing; closing the last pushes operators 0 with
    the time it closed as operatorLastSeen, which hello then agrees with."""
    follower(world, "g")
    world.connect("o1", OLGA)
    world.connect("o2", OLGA)
    world.clock.advance(60_000)
    world.chat.disconnect(ConnectionId("o1"))
    assert len(statuses(world)) == 1
    world.clock.advance(60_000)
    world.chat.disconnect(ConnectionId("o2"))
    last = statuses(world)[-1]
    assert len(statuses(world)) == 2
    assert last.connection_ids == ("g",)
    assert last.frame == {
        "type": "operators",
        "operatorsOnline": 0,
        "operatorLastSeen": FUTURE_MS + 120_000,
    }
    hello = world.reply("g", action="hello")
    assert (hello["operatorsOnline"], hello["operatorLastSeen"]) == (0, FUTURE_MS + 120_000)


def test_one_operator_leaving_while_another_stays_announces_the_count(world: World) -> None:
    """With Otto still online, Olga's leaving is pushed as operators 1."""
    follower(world, "g")
    world.connect("o1", OLGA)
    world.connect("p1", OTTO)
    world.chat.disconnect(ConnectionId("o1"))
    assert statuses(world)[-1].frame["operatorsOnline"] == 1


def test_an_operator_found_gone_by_the_fan_out_is_announced_as_gone(world: World) -> None:
    """A push that finds an operator's last connection gone (410) forgets it, and the followers
    learn that no operator is online."""
    follower(world, "g")
    world.connect("o1", OLGA)
    world.reply("o1", action="subscribe", topic="room/a")
    world.visitor("w", "Wes")
    world.send("w", "room/a", "anyone there?", "m1")
    (message,) = world.stored("room/a")
    world.push.gone.add("o1")
    world.clock.advance(5_000)
    report = world.chat.deliver(message)
    assert report.gone == {"o1"}
    assert world.store.get_connection(ConnectionId("o1")) is None
    last = statuses(world)[-1]
    assert last.connection_ids == ("g",)
    assert last.frame == {
        "type": "operators",
        "operatorsOnline": 0,
        "operatorLastSeen": FUTURE_MS + 5_000,
    }


def test_a_follower_found_gone_by_the_announcement_is_forgotten(world: World) -> None:
    """The disconnect that pushes the status forgets the followers that push finds gone."""
    follower(world, "g")
    follower(world, "dead")
    world.connect("o1", OLGA)
    world.push.gone.add("dead")
    world.chat.disconnect(ConnectionId("o1"))
    assert world.store.get_connection(ConnectionId("dead")) is None
    assert world.store.get_connection(ConnectionId("g")) is not None


def test_guests_and_visitors_coming_and_going_are_not_announced(world: World) -> None:
    """Only operators change the status."""
    follower(world, "g")
    world.connect("v", VERA)
    world.chat.disconnect(ConnectionId("v"))
    assert statuses(world) == []


def test_subscribing_replies_with_the_current_status(world: World) -> None:
    """The subscribed reply carries operatorsOnline and operatorLastSeen, so a follower starts
    from the right status without a second request."""
    first = follower(world, "g")
    assert first == {
        "type": "subscribed",
        "topic": OPERATORS,
        "operatorsOnline": 0,
        "operatorLastSeen": None,
        "lastSeq": 0,
    }
    world.connect("o1", OLGA)
    world.clock.advance(1_000)
    later = follower(world, "v", VERA)
    assert (later["operatorsOnline"], later["operatorLastSeen"]) == (1, FUTURE_MS + 1_000)


def test_an_operator_following_all_system_topics_gets_the_status_too(world: World) -> None:
    """$sys/# (operators only) matches $sys/operators: the push finds wildcard followers as a
    message's fan-out does."""
    world.connect("p1", OTTO)
    world.reply("p1", action="subscribe", topic="$sys/#")
    world.connect("o1", OLGA)
    (post,) = statuses(world)
    assert post.connection_ids == ("p1",)


class LaggingIndex(SqliteStore):
    """The role index as DynamoDB's eventually consistent GSI may show it: still listing
    connections already deleted (``stale``), not yet listing some just written (``hidden``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.stale: list[Connection] = []
        self.hidden: set[ConnectionId] = set()

    def online_operators(self, now_ms: int) -> list[Connection]:
        fresh = [c for c in super().online_operators(now_ms) if c.id not in self.hidden]
        return fresh + self.stale


@pytest.fixture
def lagging(tmp_path: Path) -> Iterator[World]:
    store = LaggingIndex(tmp_path / "chat.sqlite3")
    push, clock = RecordingPush(), ManualClock(FUTURE_MS)
    chat = Chat(store, push, clock, TokenIssuer(SECRET, 3600))
    try:
        yield World(chat, store, push, clock)
    finally:
        store.close()


def test_a_lagging_index_neither_hides_an_arrival_nor_keeps_a_departure(lagging: World) -> None:
    """A connection the index does not show yet still counts as arrived; a connection it still
    shows after its deletion does not keep its operator online."""
    store = lagging.store
    assert isinstance(store, LaggingIndex)
    follower(lagging, "g")
    store.hidden.add(ConnectionId("o1"))
    lagging.connect("o1", OLGA)
    store.hidden.clear()
    lagging.connect("o2", OLGA)
    stale = store.get_connection(ConnectionId("o1"))
    assert stale is not None
    store.stale.append(stale)
    lagging.chat.disconnect(ConnectionId("o1"))
    lagging.chat.disconnect(ConnectionId("o2"))
    assert [p.frame["operatorsOnline"] for p in statuses(lagging)] == [1, 0]


# -- who may do what on $sys/operators --------------------------------------------------------

ROLES = {"guest": None, "visitor": VERA, "operator": OTTO}


@pytest.mark.parametrize("role", ROLES)
def test_everyone_may_follow_the_operator_status(world: World, role: str) -> None:
    follower(world, "c", ROLES[role])
    assert world.store.filters_of(ConnectionId("c")) == [OPERATORS]


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "send", "text": "hi", "clientMsgId": "m1"},
        {"action": "typing"},
        {"action": "read", "seq": 0},
        {"action": "history"},
        {"action": "presence"},
    ],
    ids=lambda fields: str(fields["action"]),
)
@pytest.mark.parametrize("role", ROLES)
def test_nobody_may_send_type_read_or_list_on_the_operator_status(
    world: World, role: str, fields: dict[str, object]
) -> None:
    """Only hubbub speaks on $sys/operators; it keeps no history or read markers, and who
    follows it is not shown."""
    world.connect("c", ROLES[role])
    world.reply("c", action="subscribe", topic=OPERATORS)
    refusal = world.refusal("c", topic=OPERATORS, **fields)
    assert refusal.code is ErrorCode.FORBIDDEN
    assert world.stored(OPERATORS) == []


@pytest.mark.parametrize("topic", ["$sys/+", "$sys/#", "$sys/operators/#", "$sys/presence"])
def test_visitors_may_follow_no_other_system_topic(world: World, topic: str) -> None:
    world.connect("v", VERA)
    assert world.refusal("v", action="subscribe", topic=topic).code is ErrorCode.FORBIDDEN


def test_following_the_status_is_never_announced_as_presence(world: World) -> None:
    """Subscribing, registering, unsubscribing and disconnecting on $sys/operators push no
    joined or left, though others follow it too."""
    follower(world, "g")
    follower(world, "h")
    world.reply("h", action="register", nickname="Hana")
    world.reply("h", action="unsubscribe", topic=OPERATORS)
    follower(world, "v", VERA)
    world.chat.disconnect(ConnectionId("v"))
    assert world.push.frames_of_type("joined") == []
    assert world.push.frames_of_type("left") == []


def test_a_store_that_fails_the_status_read_keeps_the_operator_connected(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The status is best effort: the connection is written before it is worked out, so a busy
    store there neither refuses the handshake nor leaves an operator online who was refused."""
    follower(world, "f")

    def busy(now_ms: int) -> list[Connection]:
        raise StoreUnavailable("throttled")

    monkeypatch.setattr(world.store, "online_operators", busy)
    world.push.posts.clear()
    world.connect("o1", OLGA)

    connection = world.store.get_connection(ConnectionId("o1"))
    assert connection is not None and connection.user == OLGA
    assert world.push.frames_of_type("operators") == []
    assert "operator status not announced: throttled" in caplog.text

    world.chat.disconnect(ConnectionId("o1"))
    assert world.store.get_connection(ConnectionId("o1")) is None
