"""Edits and deletes on DynamoDB.

An edit or a delete is one conditional UpdateItem of the message item, so DynamoDB Streams
carries it as a MODIFY with the new image, and the fan-out pushes ``edited``/``deleted`` from
it as it pushes ``message`` from an INSERT. The condition (same id, not deleted, unexpired, and
for an edit the same sender) makes a repeated delete write, and stream, nothing. Sanctions,
which share the topic's partition, are in ``sanctions.py``.
"""

from __future__ import annotations

from typing import Any

from hubbub.ids import MessageId, Topic, UserId
from hubbub.store.dynamodb.client import ConditionFailed, Table
from hubbub.store.dynamodb.codec import load
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key
from hubbub.store.items import message_from_item, message_sk, topic_pk
from hubbub.store.records import Message

__all__ = ["Revisions"]


class Revisions:
    def __init__(self, table: Table) -> None:
        self._table = table

    def get_message(self, topic: Topic, seq: int, now_ms: int) -> Message | None:
        item = self._table.get(topic_pk(topic), message_sk(seq))
        message = None if item is None else message_from_item(item)
        if message is None or message.expires_at <= now_ms // 1000:
            return None
        return message

    def revise(
        self,
        topic: Topic,
        seq: int,
        message_id: MessageId,
        *,
        author: UserId | None,
        text: str | None,
        now_ms: int,
    ) -> Message | None:
        condition = "#id = :id AND attribute_not_exists(#deleted) AND #expiresAt > :now"
        if author is not None:
            condition += " AND #from = :author"
        if text is None:
            expression = "SET #deleted = :yes REMOVE #text, #atts"
        else:
            expression = "SET #text = :text, #editedAt = :editedAt"
        values: dict[str, Any] = {
            "id": message_id,
            "now": now_ms // 1000,
            "author": author,
            "yes": True,
            "text": text,
            "editedAt": now_ms,
        }
        try:
            response = self._table.call(
                "update_item",
                TableName=self._table.name,
                Key=key(topic_pk(topic), message_sk(seq)),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **placeholders(expression, condition, **values),
            )
        except ConditionFailed:
            return None
        return message_from_item(load(response["Attributes"]))
