"""edit and delete (issue 19, item 1): who may, what is stored, what the stream carries.

The chat world runs on the real SQLite store; ``changes`` reads its outbox the way the runtime's
stream poller does, so these tests see the very records the fan-out is handed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from hubbub import streamlog
from hubbub.chat.settings import ChatSettings
from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode
from hubbub.store.items import message_from_item
from hubbub.store.port import Message, Role, User
from tests.unit.chatworld import World, world_in

OLGA = User(UserId("o_1"), Role.OPERATOR, "Olga")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


def changes(world: World) -> list[tuple[str, Message]]:
    """Every message record in the store's stream log: (event name, decoded NewImage)."""
    path = world.store._path
    with sqlite3.connect(path) as db:
        entries = streamlog.read_after(db, 0, 1000)
    db.close()
    plain = TypeDeserializer()
    out = []
    for entry in entries:
        assert entry.new_image is not None
        item = {k: plain.deserialize(v) for k, v in entry.new_image.items()}
        message = message_from_item(item)
        if message is not None:
            out.append((entry.event_name, message))
    return out


def posted(world: World, cid: str, text: str = "hello") -> dict[str, Any]:
    return world.send(cid, "room/a", text, f"c-{text}")


def test_the_author_edits_and_the_edit_is_a_modify_the_fan_out_pushes(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    world.clock.advance(5)
    reply = world.reply("v", action="edit", topic="room/a", id=ack["id"], text="hello!", ref="e")
    assert reply == {
        "type": "edited",
        "topic": "room/a",
        "id": ack["id"],
        "seq": 1,
        "text": "hello!",
        "editedAt": world.clock.now_ms(),
        "ref": "e",
    }
    (first, _), (kind, modified) = changes(world)
    assert first == "INSERT"
    assert (kind, modified.text, modified.edited_at) == ("MODIFY", "hello!", reply["editedAt"])
    world.connect("g")
    world.reply("g", action="subscribe", topic="room/a")
    world.push.posts.clear()
    world.chat.deliver(modified, inserted=False)
    (post,) = world.push.posts
    assert post.frame == {k: v for k, v in reply.items() if k != "ref"}
    history = world.reply("g", action="history", topic="room/a")["messages"]
    assert [(m["text"], m["editedAt"]) for m in history] == [("hello!", reply["editedAt"])]


def test_editing_to_the_same_text_again_writes_and_pushes_nothing(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    first = world.reply("v", action="edit", topic="room/a", id=ack["id"], text="new")
    world.clock.advance(1000)
    again = world.reply("v", action="edit", topic="room/a", id=ack["id"], text="new")
    assert again == first
    assert [kind for kind, _ in changes(world)] == ["INSERT", "MODIFY"]
    unchanged = world.reply(
        "v", action="edit", topic="room/a", id=posted(world, "v", "b")["id"], text="b"
    )
    assert unchanged["editedAt"] is None, "a message never edited has no editedAt"


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("other", ErrorCode.FORBIDDEN),
        ("operator", ErrorCode.FORBIDDEN),
        ("guest", ErrorCode.FORBIDDEN),
    ],
)
def test_only_the_author_may_edit(world: World, who: str, code: ErrorCode) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    if who == "other":
        world.visitor("x", "Xena")
    elif who == "operator":
        world.connect("x", OLGA)
    else:
        world.connect("x")
    error = world.refusal("x", action="edit", topic="room/a", id=ack["id"], text="mine now")
    assert error.code is code
    assert [m.text for m in world.stored("room/a")] == ["hello"]


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda i: i + "0", ErrorCode.NOT_FOUND),  # another seq
        (lambda i: "m_x." + i.rsplit(".", 1)[1], ErrorCode.NOT_FOUND),  # right seq, wrong id
        (lambda i: i.rsplit(".", 1)[0], ErrorCode.NOT_FOUND),  # no seq at all
    ],
    ids=["another seq", "a forged id", "no seq"],
)
def test_an_id_that_names_no_message_is_not_found(
    world: World, mangle: Any, code: ErrorCode
) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    for action in ({"action": "edit", "text": "x"}, {"action": "delete"}):
        error = world.refusal("v", topic="room/a", id=mangle(ack["id"]), **action)
        assert error.code is code


def test_an_id_of_another_topic_is_not_found(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    world.send("v", "room/b", "there", "c-b")
    error = world.refusal("v", action="delete", topic="room/b", id=ack["id"])
    assert error.code is ErrorCode.NOT_FOUND


def test_a_blank_edit_is_a_bad_request(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    error = world.refusal("v", action="edit", topic="room/a", id=ack["id"], text="   ")
    assert error.code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("who", ["author", "operator"])
def test_the_author_or_an_operator_deletes_and_history_keeps_a_tombstone(
    world: World, who: str
) -> None:
    world.visitor("v")
    ack = posted(world, "v", "oops")
    posted(world, "v", "fine")
    deleter = "v"
    if who == "operator":
        world.connect("o", OLGA)
        deleter = "o"
    reply = world.reply(deleter, action="delete", topic="room/a", id=ack["id"])
    assert reply == {"type": "deleted", "topic": "room/a", "id": ack["id"], "seq": 1}
    history = world.reply("v", action="history", topic="room/a")["messages"]
    assert history[0] == {
        "topic": "room/a",
        "id": ack["id"],
        "seq": 1,
        "ts": history[0]["ts"],
        "deleted": True,
    }
    assert [m["seq"] for m in history] == [1, 2], "seq stays gapless"
    backlog = world.reply("v", action="subscribe", topic="room/a", since=0)["messages"]
    assert backlog[0]["deleted"] is True and "text" not in backlog[0]
    kind, tombstone = changes(world)[-1]
    assert (kind, tombstone.deleted, tombstone.text) == ("MODIFY", True, "")
    with sqlite3.connect(world.store._path) as db:
        assert db.execute("SELECT text FROM messages WHERE seq = 1").fetchone() == ("",)
    db.close()


def test_deleting_twice_answers_the_same_and_streams_once(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    first = world.reply("v", action="delete", topic="room/a", id=ack["id"])
    second = world.reply("v", action="delete", topic="room/a", id=ack["id"])
    assert first == second
    assert [kind for kind, _ in changes(world)] == ["INSERT", "MODIFY"]
    error = world.refusal("v", action="edit", topic="room/a", id=ack["id"], text="back")
    assert error.code is ErrorCode.NOT_FOUND


def test_another_visitor_may_not_delete(world: World) -> None:
    world.visitor("v")
    ack = posted(world, "v")
    world.visitor("x", "Xena")
    error = world.refusal("x", action="delete", topic="room/a", id=ack["id"])
    assert error.code is ErrorCode.FORBIDDEN
    assert world.stored("room/a")[0].deleted is False


def test_a_desk_message_is_deleted_only_by_who_may_read_the_desk(world: World) -> None:
    visitor = world.visitor("v")
    topic = f"desk/{visitor['id']}"
    ack = world.send("v", topic, "private", "c1")
    world.visitor("x", "Xena")
    error = world.refusal("x", action="delete", topic=topic, id=ack["id"])
    assert error.code is ErrorCode.FORBIDDEN


def test_a_fan_out_of_a_modify_that_neither_edits_nor_deletes_pushes_nothing(
    world: World,
) -> None:
    world.visitor("v")
    posted(world, "v")
    (message,) = world.stored("room/a")
    world.reply("v", action="subscribe", topic="room/a")
    world.push.posts.clear()
    report = world.chat.deliver(message, inserted=False)
    assert report.delivered == 0 and world.push.posts == []


def test_edits_draw_on_the_send_allowance(tmp_path: Path) -> None:
    """Each edit is pushed to the whole topic as a message is, so a flood of edits is held to
    the send rate: past the burst an edit is refused with rate_limited and nothing is written."""
    with world_in(tmp_path, ChatSettings(send_per_s=0.001, send_burst=2)) as w:
        w.visitor("v")
        ack = w.send("v", "room/a", "one", "c1")
        w.reply("v", action="edit", topic="room/a", id=ack["id"], text="two")
        error = w.refusal("v", action="edit", topic="room/a", id=ack["id"], text="three")
        assert error.code is ErrorCode.RATE_LIMITED
        assert [m.text for m in w.stored("room/a")] == ["two"]
