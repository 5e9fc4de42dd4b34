"""Limits per user, whatever the connection or channel (issue 15, item 2), and a removed
operator's rights on open connections (item 1): the chat service on the real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from hubbub.chat.revocation import remove_operator
from hubbub.chat.settings import ChatSettings
from hubbub.ids import ConnectionId, TopicFilter, UserId
from hubbub.protocol.actions import parse_action
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.push.port import Hangup, PushOutcome
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in

VERA = User(UserId("v_vera"), Role.VISITOR, "Vera")
OLGA = User(UserId("o_olga"), Role.OPERATOR, "Olga")
TIGHT = ChatSettings(
    send_per_s=1.0,
    send_burst=3,
    typing_per_s=1.0,
    typing_burst=2,
    rename_per_s=0.1,
    rename_burst=2,
    guest_register_per_s=0.5,
    guest_register_burst=3,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path, TIGHT) as w:
        yield w


def code(world: World, cid: str, **fields: object) -> str:
    try:
        world.act(cid, **fields)
    except ProtocolError as exc:
        return exc.code.value
    return "ok"


def sends(world: World, cids: Sequence[str], count: int, topic: str = "room/a") -> list[str]:
    return [
        code(world, cids[n % len(cids)], action="send", topic=topic, text="x", clientMsgId=f"m{n}")
        for n in range(count)
    ]


def test_one_user_over_five_connections_shares_one_send_bucket(world: World) -> None:
    cids = [f"c{n}" for n in range(5)]
    for cid in cids:
        world.connect(cid, VERA)
    outcomes = sends(world, cids, 20)
    assert outcomes.count("ok") == 3
    assert set(outcomes[3:]) == {"rate_limited"}
    assert len(world.stored("room/a")) == 3


def test_rest_and_websocket_draw_on_the_same_bucket(world: World) -> None:
    """Chat.send is the REST path: sends there use up the user's WebSocket sends too."""
    world.connect("c", VERA)
    for n in range(3):
        world.chat.send(VERA, "room/a", "rest", f"r{n}")
    assert sends(world, ["c"], 1) == ["rate_limited"]
    with pytest.raises(ProtocolError) as caught:
        world.chat.send(VERA, "room/a", "rest", "r9")
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == pytest.approx(1.0)


def test_another_user_is_not_limited_by_a_flood(world: World) -> None:
    world.connect("flood", VERA)
    sends(world, ["flood"], 10)
    world.visitor("other", "Otto")
    assert sends(world, ["other"], 1) == ["ok"]


def test_typing_is_limited_per_user_across_connections_and_topics(world: World) -> None:
    world.connect("a", VERA)
    world.connect("b", VERA)
    outcomes = [
        code(world, cid, action="typing", topic=topic)
        for cid, topic in [("a", "room/a"), ("b", "room/b"), ("a", "room/c"), ("b", "room/a")]
    ]
    assert outcomes == ["ok", "ok", "rate_limited", "rate_limited"]


def test_guest_registrations_are_limited_per_source_address(world: World) -> None:
    """New identities from one address: the burst, then refused; another address is not."""
    outcomes = []
    for n in range(6):
        world.connect(f"g{n}")
        action = parse_action('{"action": "register", "nickname": "bot"}')
        try:
            world.chat.handle(ConnectionId(f"g{n}"), action, source_ip="203.0.113.9")
            outcomes.append("ok")
        except ProtocolError as exc:
            outcomes.append(exc.code.value)
    assert outcomes == ["ok"] * 3 + ["rate_limited"] * 3
    world.connect("elsewhere")
    action = parse_action('{"action": "register", "nickname": "human"}')
    welcome = world.chat.handle(ConnectionId("elsewhere"), action, source_ip="198.51.100.7")
    assert welcome is not None and welcome["type"] == "welcome"


def test_renames_are_limited_and_a_bystander_hears_only_the_allowed_ones(world: World) -> None:
    world.visitor("renamer", "r0")
    world.reply("renamer", action="subscribe", topic="room/lobby")
    world.visitor("bystander", "b")
    world.reply("bystander", action="subscribe", topic="room/lobby")
    world.push.posts.clear()
    outcomes = [code(world, "renamer", action="register", nickname=f"r{n}") for n in range(1, 30)]
    assert outcomes.count("ok") == 2
    joined = [p for p in world.push.frames_of_type("joined") if "bystander" in p.connection_ids]
    assert len(joined) == 2
    world.clock.advance(10_000)
    assert code(world, "renamer", action="register", nickname="later") == "ok"


def test_a_direct_message_to_nobody_is_not_found_and_not_stored(world: World) -> None:
    world.connect("v", VERA)
    world.connect("o", OLGA)
    world.visitor("w", "Wanda")
    wanda = world.store.get_connection(ConnectionId("w"))
    assert wanda is not None
    for topic in ("user/nobody1", "user/o_nobody", "user/g_0123456789abcdef"):
        assert sends(world, ["v"], 1, topic) == ["not_found"]
        assert world.stored(topic) == []
    # a refused recipient still took a token: looking people up is not free either
    assert sends(world, ["v"], 1, f"user/{wanda.user.id}") == ["rate_limited"]
    world.clock.advance(2_000)
    assert sends(world, ["v"], 1, f"user/{wanda.user.id}") == ["ok"]
    assert sends(world, ["v"], 1, f"user/{OLGA.id}") == ["ok"]


# -- a removed operator ---------------------------------------------------------------------


def test_a_removed_operator_is_refused_once_the_recheck_window_passes(world: World) -> None:
    """Within OPERATOR_RECHECK_SECONDS an environment that has just checked may still let an
    action through; past it, the connection is refused and forgotten with its subscriptions."""
    world.connect("o", OLGA)
    world.reply("o", action="subscribe", topic="desk/+")
    assert world.reply("o", action="conversations")["type"] == "conversations"
    assert world.chat.desk.remove_operator("Olga") is not None
    world.clock.advance(4_000)
    assert world.reply("o", action="conversations")["type"] == "conversations"
    world.clock.advance(1_000)
    assert code(world, "o", action="conversations") == "unauthorized"
    assert world.store.get_connection(ConnectionId("o")) is None
    assert world.store.subscribers(TopicFilter("desk/+")) == []
    for fields in (
        {"action": "subscribe", "topic": "desk/+"},
        {"action": "history", "topic": "desk/v_vera"},
        {"action": "register", "nickname": "Olga again"},
    ):
        assert code(world, "o", **fields) == "unauthorized"


def test_a_removed_operator_left_connected_gets_no_desk_conversation(world: World) -> None:
    """A connection the removal could not close never acts again, so ``_acting`` never drops
    it; frames posted to it keep it open on API Gateway (up to two hours). The fan-out asks
    the directory about every operator among a desk topic's subscribers, so past the recheck
    window it gets nothing of a visitor's desk, through ``desk/+`` or the exact topic. Rooms
    are public and still reach it."""
    otto = User(UserId("o_otto"), Role.OPERATOR, "Otto")
    world.connect("o", OLGA)
    world.connect("x", otto)
    for cid in ("o", "x"):
        world.reply(cid, action="subscribe", topic="desk/+")
        world.reply(cid, action="subscribe", topic="room/lobby")
    world.reply("o", action="subscribe", topic="desk/v_vera")
    world.connect("v", VERA)
    world.reply("v", action="subscribe", topic="desk/v_vera")
    assert world.chat.desk.remove_operator("Olga") is not None
    world.clock.advance(5_000)  # the recheck window (5 s) has passed
    world.push.posts.clear()
    for topic, cmid in (("desk/v_vera", "d1"), ("room/lobby", "r1")):
        ack = world.send("v", topic, "hello", cmid)
        (stored,) = [m for m in world.stored(topic) if m.seq == ack["seq"]]
        world.chat.deliver(stored)
    desk, room = (
        next(p for p in world.push.posts if p.frame.get("topic") == t)
        for t in ("desk/v_vera", "room/lobby")
    )
    assert sorted(desk.connection_ids) == ["v", "x"]
    assert sorted(room.connection_ids) == ["o", "x"]


def test_with_no_recheck_window_the_directory_is_asked_every_time(tmp_path: Path) -> None:
    with world_in(tmp_path, ChatSettings(operator_recheck_s=0)) as w:
        w.connect("o", OLGA)
        w.reply("o", action="conversations")
        w.chat.desk.remove_operator("Olga")
        assert code(w, "o", action="register", nickname="Olga") == "unauthorized"


class Hangups(Hangup):
    def __init__(self, gone: set[str] = frozenset(), failed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.asked: list[list[ConnectionId]] = []
        self._gone, self._failed = set(gone), set(failed)

    def disconnect(self, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        self.asked.append(list(connection_ids))
        return PushOutcome(
            gone={c for c in connection_ids if c in self._gone},
            failed={c for c in connection_ids if c in self._failed},
        )


def test_removing_an_operator_closes_their_connections_only(world: World) -> None:
    otto = User(UserId("o_otto"), Role.OPERATOR, "Otto")
    for cid, user in [("o1", OLGA), ("o2", OLGA), ("o3", OLGA), ("o4", OLGA), ("x", otto)]:
        world.connect(cid, user)
    world.connect("v", VERA)
    hangup = Hangups(gone={"o3"}, failed={"o4"})
    removal = remove_operator(world.chat.desk, world.store, hangup, "Olga", world.clock.now_ms())
    assert removal is not None
    assert sorted(*hangup.asked) == ["o1", "o2", "o3", "o4"]
    assert sorted(removal.closed) == ["o1", "o2"]
    assert removal.not_closed == ["o4"]
    assert world.store.get_connection(ConnectionId("o3")) is None  # gone: forgotten here
    assert world.store.get_operator(OLGA.id) is None
    assert remove_operator(world.chat.desk, world.store, hangup, "Olga", 0) is None


def test_without_an_endpoint_a_removal_reports_the_connections_left_open(world: World) -> None:
    world.connect("o1", OLGA)
    removal = remove_operator(world.chat.desk, world.store, None, "Olga", world.clock.now_ms())
    assert removal is not None and removal.not_closed == ["o1"] and removal.closed == []
