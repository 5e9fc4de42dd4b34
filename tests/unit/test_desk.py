"""The support desk (``hubbub.chat.desk`` through the chat service): operators, conversations,
unread counts and read markers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in
from tests.unit.fakes import FUTURE_MS


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def operator(world: World, cid: str, name: str = "Olga") -> User:
    """A new operator, connected with the token the desk issued."""
    _, token = world.chat.desk.add_operator(name, world.clock.now_ms())
    user = world.chat.authenticate(token)
    assert user is not None
    world.connect(cid, user)
    return user


def test_an_operator_token_authenticates_as_that_operator(world: World) -> None:
    """add_operator returns a token that authenticates as an operator with the given name."""
    user = operator(world, "o")
    assert user.role is Role.OPERATOR
    assert user.nickname == "Olga"


def test_a_removed_operators_token_is_refused(world: World) -> None:
    """Removing an operator revokes its token at the next connect."""
    op, token = world.chat.desk.add_operator("Olga", FUTURE_MS)
    removed = world.chat.desk.remove_operator("Olga")
    assert removed is not None and removed.name == "Olga"
    with pytest.raises(ProtocolError) as caught:
        world.chat.authenticate(token)
    assert caught.value.code is ErrorCode.UNAUTHORIZED
    assert world.store.get_operator(op.id) is None


def test_operator_names_are_unique(world: World) -> None:
    """A second operator with a taken name is refused with conflict."""
    world.chat.desk.add_operator("Olga", FUTURE_MS)
    with pytest.raises(ProtocolError) as caught:
        world.chat.desk.add_operator("Olga", FUTURE_MS)
    assert caught.value.code is ErrorCode.CONFLICT


def test_hello_counts_the_operators_online(world: World) -> None:
    """hello says how many operators are connected and, while any is, that they are seen now."""
    world.connect("g")
    assert world.reply("g", action="hello")["operatorsOnline"] == 0
    operator(world, "o1", "Olga")
    operator(world, "o2", "Otto")
    hello = world.reply("g", action="hello")
    assert hello["operatorsOnline"] == 2
    assert hello["operatorLastSeen"] == FUTURE_MS


def test_hello_remembers_when_an_operator_was_last_seen(world: World) -> None:
    """After the last operator leaves, operatorLastSeen is the time they left."""
    operator(world, "o")
    world.clock.advance(60_000)
    world.chat.disconnect(ConnectionId("o"))
    world.clock.advance(60_000)
    world.connect("g")
    hello = world.reply("g", action="hello")
    assert hello["operatorsOnline"] == 0
    assert hello["operatorLastSeen"] == FUTURE_MS + 60_000


def _visitor_writes(world: World, cid: str, nickname: str, count: int) -> str:
    user = world.visitor(cid, nickname)
    topic = f"desk/{user['id']}"
    for i in range(count):
        world.send(cid, topic, f"help {i}", f"{cid}-{i}")
        world.clock.advance(1000)
    return topic


def items(reply: dict[str, Any]) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = reply["items"]
    return listed


def test_conversations_list_desks_by_recency_with_unread_counts(world: World) -> None:
    """An operator sees desk conversations newest first, each with its visitor and the number
    of messages after the operator's read marker."""
    first = _visitor_writes(world, "v1", "Ann", 2)
    second = _visitor_writes(world, "v2", "Bob", 3)
    operator(world, "o")
    reply = world.reply("o", action="conversations")
    assert reply["type"] == "conversations"
    assert [i["topic"] for i in items(reply)] == [second, first]
    newest = items(reply)[0]
    assert newest["visitor"]["nickname"] == "Bob"
    assert newest["unread"] == 3
    assert newest["lastMessage"]["text"] == "help 2"
    assert reply["hasMore"] is False


def test_conversations_say_which_visitors_are_online(world: World) -> None:
    """A visitor whose widget follows their desk topic is online; one who left, or never
    subscribed, is not; another user on the topic (an operator) does not make them online."""
    here = _visitor_writes(world, "v1", "Ann", 1)
    gone = _visitor_writes(world, "v2", "Bob", 1)
    never = _visitor_writes(world, "v3", "Cy", 1)
    world.reply("v1", action="subscribe", topic=here)
    world.reply("v2", action="subscribe", topic=gone)
    world.chat.disconnect(ConnectionId("v2"))
    operator(world, "o")
    world.reply("o", action="subscribe", topic=never)

    listed = {i["topic"]: i["online"] for i in items(world.reply("o", action="conversations"))}

    assert listed == {here: True, gone: False, never: False}


def test_reading_moves_the_unread_count(world: World) -> None:
    """read moves the operator's marker, and unread counts only what comes after it."""
    topic = _visitor_writes(world, "v1", "Ann", 3)
    operator(world, "o")
    assert world.reply("o", action="read", topic=topic, seq=2) == {
        "type": "read",
        "topic": topic,
        "seq": 2,
    }
    (item,) = items(world.reply("o", action="conversations"))
    assert item["unread"] == 1


def test_reading_in_one_tab_tells_the_same_operator_s_other_tabs_only(world: World) -> None:
    """The marker is the operator's: their other consoles (following desk/+) get the new ``read``;
    another operator, whose marker did not move, and the reading tab itself get nothing."""
    topic = _visitor_writes(world, "v1", "Ann", 3)
    olga = operator(world, "o-tab1", "Olga")
    world.connect("o-tab2", olga)
    operator(world, "p", "Pia")
    for cid in ("o-tab1", "o-tab2", "p"):
        world.reply(cid, action="subscribe", topic="desk/+")
    world.push.posts.clear()

    world.reply("o-tab1", action="read", topic=topic, seq=2)

    (told,) = world.push.frames_of_type("read")
    assert told.connection_ids == ("o-tab2",)
    assert told.frame == {"type": "read", "topic": topic, "seq": 2}


def test_a_visitor_s_other_tab_on_the_conversation_hears_of_the_read(world: World) -> None:
    topic = _visitor_writes(world, "v1", "Ann", 2)
    first_tab = world.store.get_connection(ConnectionId("v1"))
    assert first_tab is not None
    world.connect("v1-tab2", first_tab.user)
    for cid in ("v1", "v1-tab2"):
        world.reply(cid, action="subscribe", topic=topic)
    world.push.posts.clear()

    world.reply("v1", action="read", topic=topic, seq=2)

    assert [p.connection_ids for p in world.push.frames_of_type("read")] == [("v1-tab2",)]


def test_a_read_marker_never_moves_back(world: World) -> None:
    """Reading an older seq keeps the newer marker and says so."""
    topic = _visitor_writes(world, "v1", "Ann", 3)
    operator(world, "o")
    world.reply("o", action="read", topic=topic, seq=3)
    assert world.reply("o", action="read", topic=topic, seq=1)["seq"] == 3


def test_own_messages_are_never_unread(world: World) -> None:
    """An operator's own reply does not count as unread for that operator."""
    topic = _visitor_writes(world, "v1", "Ann", 1)
    operator(world, "o")
    world.reply("o", action="read", topic=topic, seq=1)
    world.send("o", topic, "how can I help?", "o-1")
    (item,) = items(world.reply("o", action="conversations"))
    assert item["unread"] == 0


def test_conversations_page_with_before(world: World) -> None:
    """limit pages the list; before (an updatedAt) continues after the last item seen."""
    topics = [_visitor_writes(world, f"v{i}", f"V{i}", 1) for i in range(3)]
    operator(world, "o")
    page = world.reply("o", action="conversations", limit=2)
    assert [i["topic"] for i in items(page)] == [topics[2], topics[1]]
    assert page["hasMore"] is True
    rest = world.reply("o", action="conversations", limit=2, before=items(page)[-1]["updatedAt"])
    assert [i["topic"] for i in items(rest)] == [topics[0]]
    assert rest["hasMore"] is False


def test_conversations_are_for_operators_only(world: World) -> None:
    """A visitor asking for conversations is refused with forbidden."""
    world.visitor("v", "Ann")
    assert world.refusal("v", action="conversations").code is ErrorCode.FORBIDDEN


def test_a_guest_keeps_no_read_markers(world: World) -> None:
    """read from a guest is refused with forbidden."""
    world.connect("g")
    assert world.refusal("g", action="read", topic="room/a", seq=1).code is ErrorCode.FORBIDDEN


def test_registering_with_an_email_keeps_it_for_the_desk(world: World) -> None:
    """A visitor's email given at register shows on its desk conversation."""
    world.connect("v")
    user = world.reply("v", action="register", nickname="Ann", email="ann@example.org")["user"]
    world.send("v", f"desk/{user['id']}", "hi", "1")
    operator(world, "o")
    (item,) = items(world.reply("o", action="conversations"))
    assert item["visitor"] == {"id": user["id"], "nickname": "Ann", "email": "ann@example.org"}
    assert world.store.get_visitor(UserId(user["id"])) is not None
