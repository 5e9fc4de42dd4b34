"""The contract of uploads and of messages that carry attachments, on SQLite and on DynamoDB
(moto): both adapters keep the same upload records, store the same attachments on a message,
stream them in the message's image, and drop them with the text when the message is deleted."""

from __future__ import annotations

from dataclasses import replace

from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
from hubbub.store.port import AppendRequest, Attachment, Store, Upload
from tests.contract.conftest import Backend
from tests.contract.test_revisions_contract import messages_streamed
from tests.contract.test_store_contract import HOUR, NOW_MS, NOW_S

ROOM = Topic("room/a")
ANN = UserId("v_ann")
PICTURE = Attachment("at_1", "cat.png", "image/png", 2048, "attachments/room/at_1")
REPORT = Attachment(
    "at_2", "Q3 report.pdf", "application/pdf", 10 * 1024**2, "attachments/room/at_2"
)


def upload(
    attachment: Attachment, *, owner: UserId = ANN, expires_at: int = NOW_S + HOUR
) -> Upload:
    return Upload(attachment, owner=owner, topic=ROOM, created_at=NOW_MS, expires_at=expires_at)


def test_uploads_are_found_by_id_and_unknown_ids_are_absent(store: Store) -> None:
    store.put_upload(upload(PICTURE))
    store.put_upload(upload(REPORT, owner=UserId("v_bob")))
    found = {u.attachment.id: u for u in store.get_uploads(["at_1", "at_2", "at_9"], NOW_MS)}
    assert found == {"at_1": upload(PICTURE), "at_2": upload(REPORT, owner=UserId("v_bob"))}
    assert store.get_uploads([], NOW_MS) == []
    assert store.get_uploads(["at_1", "at_1"], NOW_MS) == [upload(PICTURE)]


def test_expired_uploads_are_not_found(store: Store) -> None:
    store.put_upload(upload(PICTURE, expires_at=NOW_S + 10))
    assert store.get_uploads(["at_1"], NOW_MS) == [upload(PICTURE, expires_at=NOW_S + 10)]
    assert store.get_uploads(["at_1"], (NOW_S + 10) * 1000) == []


def test_a_message_keeps_its_attachments_in_the_store_and_the_stream(backend: Backend) -> None:
    store = backend.store()
    request = AppendRequest(
        topic=ROOM,
        sender=ANN,
        nickname="Ann",
        text="",
        client_msg_id=ClientMsgId("c-att"),
        message_id=MessageId("m-att"),
        now_ms=NOW_MS,
        expires_at=NOW_S + HOUR,
        dedupe_expires_at=NOW_S + 600,
        attachments=(PICTURE, REPORT),
    )
    sent = store.append(request).message
    assert sent.attachments == (PICTURE, REPORT)
    assert sent.text == ""
    assert store.read_after(ROOM, 0, 10, NOW_MS).messages == [sent]
    assert store.get_message(ROOM, sent.seq, NOW_MS) == sent
    again = store.append(replace(request, message_id=MessageId("m-other")))
    assert again.duplicate
    assert again.message == sent
    assert messages_streamed(backend) == [("INSERT", sent)]


def test_deleting_a_message_drops_its_attachments_with_its_text(backend: Backend) -> None:
    store = backend.store()
    request = AppendRequest(
        topic=ROOM,
        sender=ANN,
        nickname="Ann",
        text="see this",
        client_msg_id=ClientMsgId("c-del"),
        message_id=MessageId("m-del"),
        now_ms=NOW_MS,
        expires_at=NOW_S + HOUR,
        dedupe_expires_at=NOW_S + 600,
        attachments=(PICTURE,),
    )
    sent = store.append(request).message
    tombstone = store.delete_message(ROOM, sent.seq, sent.id, NOW_MS + 1)
    assert tombstone is not None
    assert (tombstone.deleted, tombstone.attachments, tombstone.text) == (True, (), "")
    assert store.read_after(ROOM, 0, 10, NOW_MS).messages == [tombstone]
    assert messages_streamed(backend)[-1] == ("MODIFY", tombstone)
