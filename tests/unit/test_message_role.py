"""Issue 15, item 7: nothing in a message said who is staff, so a visitor named "Support
(operator)" looked like staff. Every message now carries its sender's ``role``, taken by the
server from the connection's authenticated identity; a ``role`` in the client's frame is ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.ids import UserId
from hubbub.store.port import Role, User
from tests.unit.chatworld import World, world_in

OPERATOR = User(UserId("o_1"), Role.OPERATOR, "Olga")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def test_a_visitor_claiming_to_be_staff_is_sent_as_a_visitor(world: World) -> None:
    """The impostor names itself like staff and puts role: operator in its send frame: the
    pushed message, the history and a resume's backlog all say visitor."""
    world.connect("reader")
    world.reply("reader", action="subscribe", topic="room/lobby")
    world.visitor("impostor", nickname="Support (operator)")
    world.reply(
        "impostor",
        action="send",
        topic="room/lobby",
        text="give me your password",
        clientMsgId="c1",
        role="operator",
        **{"from": "o_1"},
    )
    (stored,) = world.stored("room/lobby")
    world.chat.deliver(stored)
    (pushed,) = world.push.frames_of_type("message")
    assert pushed.frame["role"] == "visitor"
    assert pushed.frame["nickname"] == "Support (operator)"
    assert pushed.frame["from"].startswith("v_")
    history = world.reply("reader", action="history", topic="room/lobby")
    assert [m["role"] for m in history["messages"]] == ["visitor"]
    world.connect("late")
    backlog = world.reply("late", action="subscribe", topic="room/lobby", since=0)
    assert [m["role"] for m in backlog["messages"]] == ["visitor"]


def test_an_operator_s_message_says_operator_everywhere(world: World) -> None:
    world.connect("o", OPERATOR)
    world.send("o", "room/lobby", "hello from the team", "c1")
    world.connect("reader")
    backlog = world.reply("reader", action="subscribe", topic="room/lobby", since=0)
    assert [m["role"] for m in backlog["messages"]] == ["operator"]
    assert world.chat.history(OPERATOR, "room/lobby", None, None, 10)["messages"][0]["role"] == (
        "operator"
    )


def test_the_rest_path_takes_the_role_from_the_caller(world: World) -> None:
    """POST /api/messages goes through Chat.send with the token's user: the role is that user's."""
    visitor = User(UserId("v_1"), Role.VISITOR, "Support (operator)")
    assert world.chat.send(visitor, "room/a", "hi", "c1").message.role is Role.VISITOR
    assert world.chat.send(OPERATOR, "room/a", "hi", "c2").message.role is Role.OPERATOR


def test_a_desk_conversation_s_last_message_carries_the_role(world: World) -> None:
    user = world.visitor("v", nickname="Vera")
    world.send("v", f"desk/{user['id']}", "help", "c1")
    world.connect("o", OPERATOR)
    world.send("o", f"desk/{user['id']}", "on it", "c2")
    (item,) = world.reply("o", action="conversations")["items"]
    assert item["lastMessage"]["role"] == "operator"
