"""The contract of edits, deletes and sanctions, on SQLite and on DynamoDB (moto).

Both adapters must store the same rewrite and put the same MODIFY of the message item on their
change stream (the SQLite outbox, DynamoDB Streams), because the fan-out pushes ``edited`` and
``deleted`` from that record alone.
"""

from __future__ import annotations

from boto3.dynamodb.types import TypeDeserializer

from hubbub.ids import MessageId, Topic, UserId
from hubbub.store.items import message_from_item
from hubbub.store.port import Message, Sanction, SanctionKind, Store
from tests.contract.conftest import Backend
from tests.contract.test_store_contract import NOW_MS, send

ROOM = Topic("room/a")
ANN = UserId("v_ann")
BOB = UserId("v_bob")


def messages_streamed(backend: Backend) -> list[tuple[str, Message]]:
    plain = TypeDeserializer()
    out = []
    for name, image in backend.read_changes():
        message = message_from_item({k: plain.deserialize(v) for k, v in image.items()})
        if message is not None:
            out.append((name, message))
    return out


def test_get_message_finds_a_message_by_its_place(store: Store) -> None:
    sent = send(store, ROOM).message
    assert store.get_message(ROOM, sent.seq, NOW_MS) == sent
    assert store.get_message(ROOM, sent.seq + 1, NOW_MS) is None
    assert store.get_message(Topic("room/b"), sent.seq, NOW_MS) is None
    expired_at = (sent.expires_at + 1) * 1000
    assert store.get_message(ROOM, sent.seq, expired_at) is None


def test_an_edit_is_stored_returned_and_streamed_as_a_modify(backend: Backend) -> None:
    store = backend.store()
    sent = send(store, ROOM, text="helo").message
    edited = store.edit_message(ROOM, sent.seq, sent.id, ANN, "hello", NOW_MS + 5)
    assert edited is not None
    assert (edited.text, edited.edited_at, edited.id, edited.seq) == (
        "hello",
        NOW_MS + 5,
        sent.id,
        sent.seq,
    )
    assert store.get_message(ROOM, sent.seq, NOW_MS) == edited
    assert store.read_after(ROOM, 0, 10, NOW_MS).messages == [edited]
    assert [(name, m) for name, m in messages_streamed(backend)] == [
        ("INSERT", sent),
        ("MODIFY", edited),
    ]


def test_an_edit_by_another_of_another_id_or_of_a_tombstone_writes_nothing(
    backend: Backend,
) -> None:
    store = backend.store()
    sent = send(store, ROOM).message
    assert store.edit_message(ROOM, sent.seq, sent.id, BOB, "mine", NOW_MS) is None
    assert store.edit_message(ROOM, sent.seq, MessageId("m_other"), ANN, "x", NOW_MS) is None
    assert store.edit_message(ROOM, sent.seq + 1, sent.id, ANN, "x", NOW_MS) is None
    assert store.delete_message(ROOM, sent.seq, sent.id, NOW_MS) is not None
    assert store.edit_message(ROOM, sent.seq, sent.id, ANN, "back", NOW_MS) is None
    assert [name for name, _ in messages_streamed(backend)] == ["INSERT", "MODIFY"]


def test_a_delete_leaves_a_tombstone_without_text_and_a_second_writes_nothing(
    backend: Backend,
) -> None:
    store = backend.store()
    sent = send(store, ROOM, text="secret").message
    after = send(store, ROOM).message
    tombstone = store.delete_message(ROOM, sent.seq, sent.id, NOW_MS)
    assert tombstone is not None
    assert (tombstone.deleted, tombstone.text, tombstone.sender) == (True, "", sent.sender)
    assert store.delete_message(ROOM, sent.seq, sent.id, NOW_MS) is None
    assert store.read_after(ROOM, 0, 10, NOW_MS).messages == [tombstone, after]
    streamed = messages_streamed(backend)
    assert [name for name, _ in streamed] == ["INSERT", "INSERT", "MODIFY"]
    _, image = next(c for c in backend.read_changes() if c[0] == "MODIFY")
    assert "text" not in image, "the text is gone from the stored item and its stream image"


def test_a_delete_of_an_expired_message_writes_nothing(store: Store) -> None:
    sent = send(store, ROOM).message
    later = (sent.expires_at + 1) * 1000
    assert store.delete_message(ROOM, sent.seq, sent.id, later) is None


def sanction(kind: SanctionKind, until: int | None, topic: str = "room/a") -> Sanction:
    return Sanction(Topic(topic), ANN, kind, until, NOW_MS)


def test_sanctions_are_stored_read_listed_and_lifted(store: Store) -> None:
    mute = sanction(SanctionKind.MUTE, NOW_MS + 60_000)
    ban = sanction(SanctionKind.BAN, None, "room/b")
    store.put_sanction(mute)
    store.put_sanction(ban)
    assert store.sanctions_on(ROOM, ANN, NOW_MS) == [mute]
    assert store.sanctions_on(ROOM, BOB, NOW_MS) == []
    assert store.list_sanctions(ROOM, NOW_MS) == [mute]
    assert store.lift_sanction(Topic("room/b"), ANN, SanctionKind.BAN) is True
    assert store.lift_sanction(Topic("room/b"), ANN, SanctionKind.BAN) is False
    assert store.sanctions_on(Topic("room/b"), ANN, NOW_MS) == []


def test_listing_every_topic_finds_them_all(store: Store) -> None:
    store.put_sanction(sanction(SanctionKind.MUTE, None))
    store.put_sanction(sanction(SanctionKind.BAN, None, "desk/v_ann"))
    found = store.list_sanctions(None, NOW_MS)
    assert [(s.topic, s.kind) for s in found] == [
        ("desk/v_ann", SanctionKind.BAN),
        ("room/a", SanctionKind.MUTE),
    ]


def test_a_users_sanctions_are_theirs_on_every_topic_unexpired(store: Store) -> None:
    """The MQTT authorizer's read: one user's mutes and bans, whatever the topic, and no one
    else's; the message items and other users' sanctions around them are not in it."""
    send(store, ROOM)
    ban = sanction(SanctionKind.BAN, None, "room/z")
    mute = sanction(SanctionKind.MUTE, None, "room/z")
    desk = sanction(SanctionKind.BAN, NOW_MS + 60_000, "desk/v_ann")
    lapsed = sanction(SanctionKind.MUTE, NOW_MS + 1000)
    for each in (ban, mute, desk, lapsed):
        store.put_sanction(each)
    store.put_sanction(Sanction(Topic("room/z"), BOB, SanctionKind.BAN, None, NOW_MS))
    assert store.sanctions_of(ANN, NOW_MS) == [desk, lapsed, ban, mute]
    assert store.sanctions_of(ANN, NOW_MS + 1000) == [desk, ban, mute]
    assert [s.user_id for s in store.sanctions_of(BOB, NOW_MS)] == [BOB]
    assert store.sanctions_of(UserId("u_nobody"), NOW_MS) == []
    store.lift_sanction(Topic("room/z"), ANN, SanctionKind.BAN)
    assert store.sanctions_of(ANN, NOW_MS + 1000) == [desk, mute]


def test_an_expired_sanction_is_not_read_before_ttl_removes_it(store: Store) -> None:
    store.put_sanction(sanction(SanctionKind.MUTE, NOW_MS + 1000))
    assert store.sanctions_on(ROOM, ANN, NOW_MS + 1000) == []
    assert store.list_sanctions(None, NOW_MS + 1000) == []
    assert store.list_sanctions(ROOM, NOW_MS + 999) != []


def test_a_new_sanction_of_a_kind_replaces_the_old(store: Store) -> None:
    store.put_sanction(sanction(SanctionKind.MUTE, NOW_MS + 1000))
    longer = sanction(SanctionKind.MUTE, None)
    store.put_sanction(longer)
    assert store.sanctions_on(ROOM, ANN, NOW_MS + 5000) == [longer]


def test_a_sanction_in_a_topic_partition_is_not_a_message(backend: Backend) -> None:
    store = backend.store()
    store.put_sanction(sanction(SanctionKind.BAN, None))
    sent = send(store, ROOM).message
    assert store.read_after(ROOM, 0, 10, NOW_MS).messages == [sent]
    assert store.read_before(ROOM, None, 10, NOW_MS).messages == [sent]
    assert [name for name, _ in messages_streamed(backend)] == ["INSERT"]
