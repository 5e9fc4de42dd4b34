"""docs/asyncapi.yaml stays in step with the protocol code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hubbub.ids import UserId
from hubbub.protocol.actions import ACTIONS
from hubbub.protocol.errors import ErrorCode
from hubbub.store.port import Role, User
from tests.unit.chatworld import world_in

DOC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text()
)


def test_every_client_action_is_documented_and_nothing_else() -> None:
    messages = DOC["components"]["messages"]
    documented = {
        m["payload"]["properties"]["action"]["const"]
        for m in messages.values()
        if "const" in m.get("payload", {}).get("properties", {}).get("action", {})
    }
    assert documented == set(ACTIONS)


def test_every_error_code_is_documented() -> None:
    error = DOC["components"]["messages"]["Error"]["payload"]["properties"]["code"]["enum"]
    assert set(error) == {code.value for code in ErrorCode}


def _documented(name: str) -> set[str]:
    return set(DOC["components"]["messages"][name]["payload"]["properties"])


def test_the_operator_status_frames_are_documented_field_for_field(tmp_path: Path) -> None:
    """The operators event is documented with exactly the fields the service pushes, and the
    status fields of the subscribed reply to $sys/operators are documented there."""
    with world_in(tmp_path) as world:
        world.connect("g")
        subscribed = world.reply("g", action="subscribe", topic="$sys/operators", ref="r1")
        world.connect("o", User(UserId("o_1"), Role.OPERATOR, "Olga"))
        (post,) = world.push.frames_of_type("operators")
    assert set(post.frame) == _documented("Operators")
    assert DOC["components"]["messages"]["Operators"]["payload"]["required"] == list(post.frame)
    assert set(subscribed) <= _documented("Subscribed")


def test_the_token_reply_is_documented_field_for_field(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        world.visitor("v")
        reply = world.reply("v", action="refresh", ref="r1")
    assert set(reply) == _documented("TokenReply")
    assert set(DOC["components"]["messages"]["TokenReply"]["payload"]["required"]) == set(reply) - {
        "ref"
    }


def test_the_message_schema_has_exactly_the_fields_of_a_message_and_every_role(
    tmp_path: Path,
) -> None:
    """A pushed message is documented field for field, role included (required: every message
    carries it), with every role a sender can have."""
    schema = DOC["components"]["schemas"]["Message"]
    with world_in(tmp_path) as world:
        world.visitor("v", nickname="Support (operator)")
        world.send("v", "room/a", "hi", "c1")
        (stored,) = world.stored("room/a")
        world.connect("g")
        world.reply("g", action="subscribe", topic="room/a")
        world.chat.deliver(stored)
        (post,) = world.push.frames_of_type("message")
    assert set(post.frame) - {"type"} == set(schema["properties"]) - {"editedAt", "attachments"}
    assert "role" in schema["required"]
    assert set(schema["properties"]["role"]["enum"]) == {role.value for role in Role}


def test_edit_delete_and_their_tombstone_are_documented_field_for_field(tmp_path: Path) -> None:
    """The edited and deleted replies, an edited message and a tombstone in history carry
    exactly the documented fields."""
    tombstone = DOC["components"]["schemas"]["Tombstone"]
    message = DOC["components"]["schemas"]["Message"]
    with world_in(tmp_path) as world:
        world.visitor("v")
        one = world.send("v", "room/a", "one", "c1")
        two = world.send("v", "room/a", "two", "c2")
        edited = world.reply("v", action="edit", topic="room/a", id=one["id"], text="1", ref="r")
        deleted = world.reply("v", action="delete", topic="room/a", id=two["id"], ref="r")
        history = world.reply("v", action="history", topic="room/a")["messages"]
    assert set(edited) == _documented("Edited")
    assert set(deleted) == _documented("Deleted")
    assert set(history[0]) == set(message["properties"]) - {"attachments"}
    assert set(history[1]) == set(tombstone["properties"]) == set(tombstone["required"])


def test_a_message_with_attachments_is_documented_field_for_field(tmp_path: Path) -> None:
    """The send frame's attachments, and a message's, each attachment with exactly the
    documented fields (and the types the server takes, exactly)."""
    from hubbub.protocol.attachments import ALLOWED_TYPES
    from tests.unit.test_attachments import FakeFiles

    attachment = DOC["components"]["schemas"]["Attachment"]
    send = DOC["components"]["messages"]["Send"]["payload"]
    files = FakeFiles()
    with world_in(tmp_path, files=files) as world:
        world.visitor("v")
        connection = world.store.get_connection("v")  # type: ignore[arg-type]
        assert connection is not None
        upload = world.chat.upload(connection.user, "room/a", "c.png", "image/png", 3)
        files.arrived[files.posts[-1][0]] = 3
        ids = [upload["attachment"]["id"]]
        world.reply("v", action="send", topic="room/a", clientMsgId="c1", attachments=ids)
        (shown,) = world.reply("v", action="history", topic="room/a")["messages"]
    assert "attachments" in send["properties"] and "text" not in send["required"]
    assert set(shown) == set(DOC["components"]["schemas"]["Message"]["properties"]) - {"editedAt"}
    assert set(shown["attachments"][0]) == set(attachment["properties"])
    assert set(upload["attachment"]) == set(attachment["required"])
    assert set(attachment["properties"]["contentType"]["enum"]) == ALLOWED_TYPES


def test_moderation_frames_are_documented_field_for_field(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        world.connect("o", User(UserId("o_1"), Role.OPERATOR, "Olga"))
        moderated = world.reply(
            "o", action="moderate", topic="room/a", userId="v_1", sanction="mute", ref="r"
        )
        listed = world.reply("o", action="sanctions", topic="room/a", ref="r")
    assert set(moderated) == _documented("Moderated")
    assert set(listed) == _documented("SanctionsReply")
    items = DOC["components"]["messages"]["SanctionsReply"]["payload"]["properties"]["sanctions"]
    (entry,) = listed["sanctions"]
    assert set(entry) == set(items["items"]["properties"])


def test_large_room_presence_frames_are_documented_field_for_field(tmp_path: Path) -> None:
    """The summary a large room pushes, and the paged presence reply, carry exactly the
    documented fields (issue 18)."""
    from hubbub.chat.settings import ChatSettings

    with world_in(tmp_path, ChatSettings(presence_threshold=1)) as world:
        for cid in ("a", "b", "c"):
            world.connect(cid)
            world.reply(cid, action="subscribe", topic="room/big")
        (summary,) = world.push.frames_of_type("presence")
        page = world.reply("a", action="presence", topic="room/big", limit=1, ref="r1")
    assert set(summary.frame) == _documented("PresenceSummary")
    assert DOC["components"]["messages"]["PresenceSummary"]["payload"]["required"] == list(
        summary.frame
    )
    assert set(page) == _documented("PresenceReply")
    assert {"limit", "after"} <= _documented("Presence")


def test_hello_documents_the_ping_interval(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        world.connect("g")
        limits = world.reply("g", action="hello")["limits"]
    documented = DOC["components"]["messages"]["HelloReply"]["payload"]["properties"]["limits"]
    assert {"pingIntervalMs", "presencePageMax"} <= set(limits)
    assert set(documented["properties"]) <= set(limits)
