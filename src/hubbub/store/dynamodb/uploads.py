"""Uploads on DynamoDB: ``UP#{id}`` | ``UPLOAD``, an item of its own partition (a send reads a
few by key with one BatchGetItem), with ``expiresAt`` for TTL."""

from __future__ import annotations

from typing import Any

from hubbub.ids import Topic, UserId
from hubbub.store.dynamodb.client import Table
from hubbub.store.dynamodb.codec import Item, dump, to_int
from hubbub.store.dynamodb.keys import key
from hubbub.store.records import Attachment, Upload

__all__ = ["UPLOAD_SK", "UploadItems", "upload_pk"]

UPLOAD_SK = "UPLOAD"


def upload_pk(upload_id: str) -> str:
    return f"UP#{upload_id}"


def _upload_of(item: Item) -> Upload:
    return Upload(
        Attachment(
            id=str(item["id"]),
            filename=str(item["name"]),
            content_type=str(item["type"]),
            size=to_int(item["size"]),
            key=str(item["key"]),
        ),
        owner=UserId(str(item["owner"])),
        topic=Topic(str(item["topic"])),
        created_at=to_int(item["createdAt"]),
        expires_at=to_int(item["expiresAt"]),
    )


class UploadItems:
    """The ``Uploads`` role of ``DynamoStore``, which mixes it in (its table is ``_table``)."""

    _table: Table

    def put_upload(self, upload: Upload) -> None:
        a = upload.attachment
        item: dict[str, Any] = {
            "pk": upload_pk(a.id),
            "sk": UPLOAD_SK,
            "kind": "upload",
            "id": a.id,
            "name": a.filename,
            "type": a.content_type,
            "size": a.size,
            "key": a.key,
            "owner": upload.owner,
            "topic": upload.topic,
            "createdAt": upload.created_at,
            "expiresAt": upload.expires_at,
        }
        self._table.call("put_item", TableName=self._table.name, Item=dump(item))

    def get_uploads(self, ids: list[str], now_ms: int) -> list[Upload]:
        keys = [key(upload_pk(i), UPLOAD_SK) for i in dict.fromkeys(ids)]
        found = [_upload_of(item) for item in self._table.batch_get(keys)] if keys else []
        return [u for u in found if u.expires_at > now_ms // 1000]
