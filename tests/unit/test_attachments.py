"""Attachments (issue 19, item 3): the limits, how files are served, who may attach what, and
that a URL is minted whenever a message is shown, never stored.

The chat world runs on the real SQLite store with a fake object store (``FakeFiles``) that
records what was presigned and which uploads "arrived".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hubbub.chat.attachments import object_key, send_refusal
from hubbub.chat.fanout import Change
from hubbub.chat.mqtt import IngestedSend, parse_ingest
from hubbub.files.port import PresignedUpload
from hubbub.ids import ConnectionId, Topic, UserId
from hubbub.protocol.attachments import (
    clean_filename,
    content_disposition,
    served_type,
    upload_refusal,
)
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import DEFAULT_LIMITS
from hubbub.store.port import Attachment, Role, Upload, User
from tests.unit.chatworld import World, world_in

MB = 1024**2
ANN = User(UserId("v_ann"), Role.VISITOR, "Ann")
ROOM = Topic("room/a")


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "code"),
    [
        pytest.param("cat.png", "image/png", 1, None, id="a small png"),
        pytest.param("c.jpg", "image/jpeg", 10 * MB, None, id="exactly 10 MB"),
        pytest.param("c.gif", "image/gif", 5, None, id="gif"),
        pytest.param("c.webp", "image/webp", 5, None, id="webp"),
        pytest.param("r.pdf", "application/pdf", 5, None, id="pdf"),
        pytest.param("n.txt", "text/plain", 5, None, id="plain text"),
        pytest.param("a.zip", "application/zip", 5, None, id="zip"),
        pytest.param("c.jpg", "image/jpeg", 10 * MB + 1, ErrorCode.TOO_LARGE, id="one byte over"),
        pytest.param("e.png", "image/png", 0, ErrorCode.BAD_REQUEST, id="empty"),
        pytest.param("p.html", "text/html", 5, ErrorCode.BAD_REQUEST, id="html"),
        pytest.param("i.svg", "image/svg+xml", 5, ErrorCode.BAD_REQUEST, id="svg"),
        pytest.param("x.png", "IMAGE/PNG", 5, ErrorCode.BAD_REQUEST, id="types are exact"),
        pytest.param("x", "application/octet-stream", 5, ErrorCode.BAD_REQUEST, id="binary"),
        pytest.param("../", "image/png", 5, ErrorCode.BAD_REQUEST, id="no name left"),
        pytest.param('"', "image/png", 5, ErrorCode.BAD_REQUEST, id="only a quote"),
    ],
)
def test_upload_limits(filename: str, content_type: str, size: int, code: ErrorCode | None) -> None:
    refusal = upload_refusal(filename, content_type, size, DEFAULT_LIMITS)
    assert (refusal.code if refusal else None) == code


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("cat.png", "cat.png"),
        ("C:\\Users\\ann\\cat.png", "cat.png"),
        ("../../etc/passwd", "passwd"),
        ('a"b\r\n.txt', "ab.txt"),
        ("  spaced  .pdf ", "spaced  .pdf"),
        ("é.txt", "é.txt"),
        ("x" * 300 + ".txt", "x" * 200),
        ("..", ""),
    ],
)
def test_filenames_are_cleaned(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize(
    ("filename", "content_type", "disposition", "served"),
    [
        ("cat.png", "image/png", "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png", None),
        (
            "a b.pdf",
            "application/pdf",
            "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf",
            None,
        ),
        (
            "é.txt",
            "text/plain",
            "attachment; filename=\"_.txt\"; filename*=UTF-8''%C3%A9.txt",
            "text/plain; charset=utf-8",
        ),
        (
            "a.zip",
            "application/zip",
            "attachment; filename=\"a.zip\"; filename*=UTF-8''a.zip",
            None,
        ),
    ],
)
def test_images_are_inline_and_everything_else_a_download(
    filename: str, content_type: str, disposition: str, served: str | None
) -> None:
    assert content_disposition(filename, content_type) == disposition
    assert served_type(content_type) == (served or content_type)


def _upload(owner: str = "v_ann", topic: str = "room/a", id_: str = "at_1") -> Upload:
    attachment = Attachment(id_, "f.png", "image/png", 3, f"attachments/room/{id_}")
    return Upload(attachment, owner=UserId(owner), topic=Topic(topic), created_at=0, expires_at=9)


@pytest.mark.parametrize(
    ("asked", "found", "code"),
    [
        pytest.param([], {}, None, id="none"),
        pytest.param(["at_1"], {"at_1": _upload()}, None, id="one's own"),
        pytest.param(["at_9"], {}, ErrorCode.NOT_FOUND, id="unknown (or expired)"),
        pytest.param(
            ["at_1"], {"at_1": _upload(owner="v_bob")}, ErrorCode.FORBIDDEN, id="another's"
        ),
        pytest.param(
            ["at_1"], {"at_1": _upload(topic="room/b")}, ErrorCode.FORBIDDEN, id="another topic"
        ),
        pytest.param(["at_1", "at_1"], {"at_1": _upload()}, ErrorCode.BAD_REQUEST, id="repeated"),
        pytest.param([f"at_{i}" for i in range(6)], {}, ErrorCode.TOO_LARGE, id="six"),
    ],
)
def test_what_a_send_may_attach(
    asked: list[str], found: dict[str, Upload], code: ErrorCode | None
) -> None:
    refusal = send_refusal(ANN, ROOM, asked, found, DEFAULT_LIMITS.max_attachments)
    assert (refusal.code if refusal else None) == code


def test_object_keys_lead_with_the_topic_class_and_hold_no_user_text() -> None:
    assert object_key(Topic("room/a"), "at_1") == "attachments/room/at_1"
    assert object_key(Topic("desk/v_1"), "at_2") == "attachments/desk/at_2"
    assert object_key(Topic("user/o_1"), "at_3") == "attachments/user/at_3"


@dataclass
class FakeFiles:
    """Presigns by making up URLs (each one numbered, so a fresh one is told from an old one);
    an upload "arrives" when the test says so."""

    enabled: bool = True
    arrived: dict[str, int] = field(default_factory=dict)
    posts: list[tuple[str, str, int]] = field(default_factory=list)
    minted: int = 0
    deleted: list[str] = field(default_factory=list)

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_s: int
    ) -> PresignedUpload:
        self.posts.append((key, content_type, size))
        return PresignedUpload("https://bucket.test/", {"key": key, "Content-Type": content_type})

    def download_url(self, key: str, content_type: str, disposition: str, expires_s: int) -> str:
        self.minted += 1
        return f"https://bucket.test/{key}?n={self.minted}&type={content_type}&d={disposition[:6]}"

    def stored_size(self, key: str) -> int | None:
        return self.arrived.get(key)

    def delete(self, key: str) -> None:
        self.arrived.pop(key, None)
        self.deleted.append(key)


@pytest.fixture
def files() -> FakeFiles:
    return FakeFiles()


@pytest.fixture
def world(tmp_path: Path, files: FakeFiles) -> Iterator[World]:
    with world_in(tmp_path, files=files) as w:
        yield w


def _user(world: World, cid: str) -> User:
    connection = world.store.get_connection(ConnectionId(cid))
    assert connection is not None
    return connection.user


def _uploaded(
    world: World,
    files: FakeFiles,
    cid: str,
    *,
    name: str = "cat.png",
    content_type: str = "image/png",
    size: int = 3,
    topic: str = "room/a",
) -> str:
    prepared = world.chat.upload(_user(world, cid), topic, name, content_type, size)
    files.arrived[files.posts[-1][0]] = size
    attachment_id: str = prepared["attachment"]["id"]
    return attachment_id


def test_an_upload_is_presigned_for_exactly_the_file_described(
    world: World, files: FakeFiles
) -> None:
    world.visitor("a")
    connection = _user(world, "a")
    prepared = world.chat.upload(connection, "room/a", "dir/cat.png", "image/png", 3)
    attachment = prepared["attachment"]
    assert attachment["filename"] == "cat.png"
    assert (attachment["contentType"], attachment["size"]) == ("image/png", 3)
    assert files.posts == [(f"attachments/room/{attachment['id']}", "image/png", 3)]
    assert prepared["uploadUrl"] == "https://bucket.test/"
    (stored,) = world.store.get_uploads([attachment["id"]], world.clock.now_ms())
    assert (stored.owner, stored.topic) == (connection.id, "room/a")


def test_a_refused_upload_records_and_presigns_nothing(world: World, files: FakeFiles) -> None:
    world.connect("g")  # a guest may not send in a room
    guest = _user(world, "g")
    with pytest.raises(ProtocolError) as caught:
        world.chat.upload(guest, "room/a", "cat.png", "image/png", 3)
    assert caught.value.code is ErrorCode.FORBIDDEN
    world.visitor("a")
    ann = _user(world, "a")
    for name, kind, size, code in [
        ("x.png", "image/png", 11 * MB, ErrorCode.TOO_LARGE),
        ("x.html", "text/html", 5, ErrorCode.BAD_REQUEST),
        ("x.png", "image/png", 3, ErrorCode.FORBIDDEN),  # desk of someone else
    ]:
        topic = "desk/v_other" if code is ErrorCode.FORBIDDEN else "room/a"
        with pytest.raises(ProtocolError) as caught:
            world.chat.upload(ann, topic, name, kind, size)
        assert caught.value.code is code
    assert files.posts == []


def test_a_send_carries_its_attachments_and_every_showing_mints_a_fresh_url(
    world: World, files: FakeFiles
) -> None:
    world.visitor("a")
    world.visitor("b", "Bob")
    world.reply("b", action="subscribe", topic="room/a")
    picture = _uploaded(world, files, "a")
    report = _uploaded(world, files, "a", name="q.pdf", content_type="application/pdf", size=9)
    ack = world.reply(
        "a", action="send", topic="room/a", clientMsgId="c1", attachments=[picture, report]
    )
    (message,) = world.stored("room/a")
    assert [a.id for a in message.attachments] == [picture, report]
    assert message.text == ""
    world.chat.deliver(message)
    pushed = world.push.frames_of_type("message")[-1].frame
    first = pushed["attachments"]
    assert [(a["id"], a["filename"], a["contentType"], a["size"]) for a in first] == [
        (picture, "cat.png", "image/png", 3),
        (report, "q.pdf", "application/pdf", 9),
    ]
    assert "d=inline" in first[0]["url"] and "d=attach" in first[1]["url"]
    history = world.reply("b", action="history", topic="room/a")["messages"][0]["attachments"]
    assert history[0]["url"] != first[0]["url"], "minted again when read"
    assert ack["seq"] == message.seq


def test_a_stream_batch_mints_the_links_as_it_builds_the_frame(
    world: World, files: FakeFiles
) -> None:
    """The fan-out function delivers a stream batch at once: its frame is built, and each
    attachment's link minted, then (once per message, for every recipient)."""
    world.visitor("a")
    world.visitor("b", "Bob")
    world.reply("b", action="subscribe", topic="room/a")
    picture = _uploaded(world, files, "a")
    world.reply("a", action="send", topic="room/a", clientMsgId="c1", attachments=[picture])
    (message,) = world.stored("room/a")
    minted = files.minted
    world.chat.deliver_batch([Change(message)])
    (pushed,) = [p.frame for p in world.push.frames_of_type("message")]
    assert pushed["attachments"][0]["url"].startswith("https://bucket.test/attachments/room/")
    assert files.minted == minted + 1


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        pytest.param("not uploaded", ErrorCode.BAD_REQUEST, id="the object never arrived"),
        pytest.param("someone else's", ErrorCode.FORBIDDEN, id="someone else's upload"),
        pytest.param("other topic", ErrorCode.FORBIDDEN, id="uploaded for another topic"),
        pytest.param("six", ErrorCode.TOO_LARGE, id="six attachments"),
        pytest.param("unknown", ErrorCode.NOT_FOUND, id="an id nobody uploaded"),
        pytest.param("blank", ErrorCode.BAD_REQUEST, id="no text and no attachments"),
    ],
)
def test_refused_sends_store_nothing(
    world: World, files: FakeFiles, arrange: str, code: ErrorCode
) -> None:
    world.visitor("a")
    world.visitor("b", "Bob")
    ids: list[str] = []
    if arrange == "not uploaded":
        ann = _user(world, "a")
        ids = [world.chat.upload(ann, "room/a", "c.png", "image/png", 3)["attachment"]["id"]]
    elif arrange == "someone else's":
        ids = [_uploaded(world, files, "b")]
    elif arrange == "other topic":
        ids = [_uploaded(world, files, "a", topic="room/b")]
    elif arrange == "six":
        ids = [_uploaded(world, files, "a") for _ in range(6)]
    elif arrange == "unknown":
        ids = ["at_nobody"]
    frame = {"action": "send", "topic": "room/a", "clientMsgId": "c1", "text": ""}
    refusal = world.refusal("a", **frame, **({"attachments": ids} if ids else {}))
    assert refusal.code is code
    assert world.stored("room/a") == []


def test_a_deleted_message_shows_no_attachments(world: World, files: FakeFiles) -> None:
    world.visitor("a")
    picture = _uploaded(world, files, "a")
    ack = world.reply(
        "a", action="send", topic="room/a", text="look", clientMsgId="c1", attachments=[picture]
    )
    world.reply("a", action="delete", topic="room/a", id=ack["id"])
    assert files.deleted == [f"attachments/room/{picture}"], "the file goes with the text"
    world.reply("a", action="delete", topic="room/a", id=ack["id"])
    assert len(files.deleted) == 1, "a repeated delete deletes nothing more"
    (shown,) = world.reply("a", action="history", topic="room/a")["messages"]
    assert shown == {
        "topic": "room/a",
        "id": ack["id"],
        "seq": ack["seq"],
        "ts": shown["ts"],
        "deleted": True,
    }


def test_an_mqtt_send_carries_attachments_through_the_same_checks(
    world: World, files: FakeFiles
) -> None:
    """Basic Ingest's payload may name upload ids; the send path checks them as it checks a
    WebSocket send's (the MQTT edge's handler hands them over unchanged)."""
    world.visitor("a")
    world.visitor("b", "Bob")
    mine, theirs = _uploaded(world, files, "a"), _uploaded(world, files, "b")

    def ingest(payload: object) -> IngestedSend:
        data = base64.b64encode(json.dumps(payload).encode()).decode()
        return parse_ingest({"data": data, "topic": "room/a", "clientId": "c1"})

    send = ingest({"attachments": [mine]})
    assert (send.text, send.attachments) == ("", (mine,))
    stored = world.chat.send(_user(world, "a"), send.topic, send.text, send.client_msg_id, [mine])
    assert [a.id for a in stored.message.attachments] == [mine]
    other = ingest({"text": "x", "clientMsgId": "c2", "attachments": [theirs]})
    with pytest.raises(ProtocolError) as caught:
        world.chat.send(_user(world, "a"), other.topic, other.text, "c2", [*other.attachments])
    assert caught.value.code is ErrorCode.FORBIDDEN
    for bad in ({"text": "x", "attachments": "at_1"}, {"text": "x", "attachments": [1]}):
        with pytest.raises(ProtocolError) as caught:
            ingest(bad)
        assert caught.value.code is ErrorCode.BAD_REQUEST


def test_without_a_bucket_attachments_are_refused(tmp_path: Path) -> None:
    with world_in(tmp_path) as world:
        world.visitor("a")
        ann = _user(world, "a")
        with pytest.raises(ProtocolError) as caught:
            world.chat.upload(ann, "room/a", "c.png", "image/png", 3)
        assert caught.value.code is ErrorCode.FORBIDDEN
        refusal = world.refusal(
            "a", action="send", topic="room/a", clientMsgId="c", attachments=["at_1"]
        )
        assert refusal.code is ErrorCode.FORBIDDEN
