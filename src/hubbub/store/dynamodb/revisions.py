"""Edits, deletes and sanctions on DynamoDB.

An edit or a delete is one conditional UpdateItem of the message item, so DynamoDB Streams
carries it as a MODIFY with the new image, and the fan-out pushes ``edited``/``deleted`` from
it as it pushes ``message`` from an INSERT. The condition (same id, not deleted, unexpired, and
for an edit the same sender) makes a repeated delete write, and stream, nothing.

A sanction lives in its topic's partition, ``T#{topic}`` | ``X#{user}#{kind}``, so the send
path's check is one Query of at most two small items (a mute and a ban): the cost of a GetItem.
It carries ``expiresAt`` (TTL) when it ends, and a copy of its keys in gsi1 (``SANCTIONS``) for
the console's listing across topics; its ``user`` attribute keys the sparse index
``sanctionsByUser``, where the MQTT authorizer finds one user's bans without reading everyone's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub.ids import MessageId, Topic, UserId
from hubbub.store.dynamodb.client import ConditionFailed, Table
from hubbub.store.dynamodb.codec import Item, dump, load, to_int
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key
from hubbub.store.dynamodb.schema import GSI1, SANCTIONS_BY_USER
from hubbub.store.items import message_from_item, message_sk, topic_pk
from hubbub.store.records import Message, Sanction, SanctionKind

__all__ = ["SANCTIONS_INDEX_KEY", "Revisions"]

SANCTIONS_INDEX_KEY = "SANCTIONS"


def _sanction_sk(user_id: str, kind: str | None = None) -> str:
    return f"X#{user_id}#" + (kind or "")


def _sanction_of(item: Item) -> Sanction:
    until = item.get("untilMs")
    return Sanction(
        topic=Topic(str(item["topic"])),
        user_id=UserId(str(item["user"])),
        kind=SanctionKind(str(item["sanction"])),
        until_ms=None if until is None else to_int(until),
        created_at=to_int(item["createdAt"]),
    )


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

    def put_sanction(self, sanction: Sanction) -> None:
        item: dict[str, Any] = {
            "pk": topic_pk(sanction.topic),
            "sk": _sanction_sk(sanction.user_id, sanction.kind.value),
            "kind": "sanction",
            "topic": sanction.topic,
            "user": sanction.user_id,
            "sanction": sanction.kind.value,
            "createdAt": sanction.created_at,
            "gsi1pk": SANCTIONS_INDEX_KEY,
            "gsi1sk": f"{sanction.topic}#{sanction.user_id}#{sanction.kind.value}",
        }
        if sanction.until_ms is not None:
            item["untilMs"] = sanction.until_ms
            item["expiresAt"] = -(-sanction.until_ms // 1000)
        self._table.call("put_item", TableName=self._table.name, Item=dump(item))

    def lift_sanction(self, topic: Topic, user_id: UserId, kind: SanctionKind) -> bool:
        response = self._table.call(
            "delete_item",
            TableName=self._table.name,
            Key=key(topic_pk(topic), _sanction_sk(user_id, kind.value)),
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def sanctions_on(self, topic: Topic, user_id: UserId, now_ms: int) -> list[Sanction]:
        items = self._table.partition(topic_pk(topic), _sanction_sk(user_id))
        found = [_sanction_of(item) for item in items]
        return [s for s in found if s.active(now_ms)]

    def list_sanctions(self, topic: Topic | None, now_ms: int) -> list[Sanction]:
        if topic is not None:
            items = list(self._table.partition(topic_pk(topic), "X#"))
        else:
            condition = "#gsi1pk = :index"
            items = list(
                self._table.query(
                    {
                        "IndexName": GSI1,
                        "KeyConditionExpression": condition,
                        **placeholders(condition, index=SANCTIONS_INDEX_KEY),
                    }
                )
            )
        return _active(items, now_ms)

    def sanctions_of(self, user_id: UserId, now_ms: int) -> list[Sanction]:
        condition = "#user = :user"
        query = {
            "IndexName": SANCTIONS_BY_USER,
            "KeyConditionExpression": condition,
            **placeholders(condition, user=user_id),
        }
        return _active(self._table.query(query), now_ms)


def _active(items: Iterable[Item], now_ms: int) -> list[Sanction]:
    """The unexpired sanctions among ``items`` (TTL deletes late), sorted as SQLite sorts."""
    found = [_sanction_of(item) for item in items if item.get("kind") == "sanction"]
    return sorted(
        (s for s in found if s.active(now_ms)),
        key=lambda s: (s.topic, s.user_id, s.kind.value),
    )
