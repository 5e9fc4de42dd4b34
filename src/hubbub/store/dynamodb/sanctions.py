"""Mutes and bans on DynamoDB.

A sanction lives in its topic's partition, ``T#{topic}`` | ``X#{user}#{kind}``, so the send
path's check is one Query of at most two small items (a mute and a ban): the cost of a GetItem.
It carries ``expiresAt`` (TTL) when it ends, and a copy of its keys in gsi1 (``SANCTIONS``) for
the console's listing across topics; its ``user`` attribute keys the sparse index
``sanctionsByUser``, where the MQTT authorizer finds one user's bans without reading everyone's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hubbub.ids import Topic, UserId
from hubbub.store.dynamodb.client import Table
from hubbub.store.dynamodb.codec import Item, dump, to_int
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key
from hubbub.store.dynamodb.schema import GSI1, SANCTIONS_BY_USER
from hubbub.store.items import topic_pk
from hubbub.store.records import Sanction, SanctionKind

__all__ = ["SANCTIONS_INDEX_KEY", "SanctionItems"]

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


class SanctionItems:
    """The ``Sanctions`` role of ``DynamoStore``, which mixes it in (its table is ``_table``)."""

    _table: Table

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
