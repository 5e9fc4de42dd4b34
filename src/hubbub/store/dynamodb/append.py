"""The send path's one conditional transaction: dedupe, next gapless seq, the message (DESIGN §3).

Optimistic concurrency on the topic head: read it, then write head + message + dedupe record in
one TransactWriteItems that holds only if the head is still what was read. All three items share
the topic's partition, so the transaction touches one item collection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hubbub.ids import Topic, UserId
from hubbub.store.dynamodb.client import CONDITION_FAILED, OK, Table, pause
from hubbub.store.dynamodb.codec import Item, dump, load, to_int
from hubbub.store.dynamodb.expressions import optional, placeholders, update
from hubbub.store.dynamodb.keys import (
    HEAD_SK,
    dedupe_sk,
    key,
    message_sk,
    recent_pk,
    recent_sk,
    topic_pk,
)
from hubbub.store.items import message_from_item, message_item, new_message
from hubbub.store.records import AppendRequest, AppendResult, Message, StoreUnavailable

__all__ = ["Appender"]

log = logging.getLogger(__name__)

MarkRead = Callable[[UserId, Topic, int], int]
"""Moves a user's read marker forward: the adapter's ``set_read_marker``."""


class _LostAppend:
    """What a cancelled append transaction (head, message, dedupe) says about the race it lost."""

    def __init__(self, dedupe_refused: bool, current_head: Item | None, overtaken_by: int) -> None:
        self.dedupe_refused = dedupe_refused
        self.current_head = current_head
        self.overtaken_by = overtaken_by
        """How many appends committed since the head was read: a measure of the contention."""

    @classmethod
    def of(cls, reasons: list[dict[str, Any]], expected: int) -> _LostAppend:
        if len(reasons) != 3:
            # Not the three reasons DynamoDB promises: re-read everything before trying again.
            return cls(dedupe_refused=True, current_head=None, overtaken_by=1)
        head, _, dedupe = reasons
        current = None
        if head.get("Code") == CONDITION_FAILED and "Item" in head:
            current = load(head["Item"])
        overtaken_by = 1 if current is None else max(1, to_int(current["lastSeq"]) - expected)
        return cls(dedupe.get("Code", OK) != OK, current, overtaken_by)


class Appender:
    """``Store.append`` on DynamoDB; ``max_attempts`` bounds the races one append may lose."""

    def __init__(self, table: Table, max_attempts: int, mark_read: MarkRead) -> None:
        if max_attempts < 1:
            raise ValueError("max_append_attempts must be at least 1")
        self._table = table
        self._max_attempts = max_attempts
        self._mark_read = mark_read

    def append(self, request: AppendRequest) -> AppendResult:
        """Optimistic concurrency on the head: read it, write head+message+dedupe if unchanged.

        A refused head means another writer took the seq; the cancellation hands back the head
        it wrote, so the retry needs no extra read. A refused dedupe record means a copy of this
        very send committed meanwhile, so the answer is that copy.
        """
        must_read = True
        seen: Item | None = None
        head: Item | None = None
        for attempt in range(self._max_attempts):
            if must_read:
                seen, head = self._read_for_append(request)
                original = self._original_of(request, seen)
                if original is not None:
                    return AppendResult(original, duplicate=True)
            expected = 0 if head is None else to_int(head["lastSeq"])
            message = new_message(request, expected + 1)
            reasons = self._table.transact(self._append_items(request, message, expected, seen))
            if reasons is None:
                if request.mark_read:
                    self._mark_own_message_read(request, message.seq)
                return AppendResult(message, duplicate=False)
            lost = _LostAppend.of(reasons, expected)
            must_read = lost.dedupe_refused or lost.current_head is None
            head = lost.current_head
            if not lost.dedupe_refused:
                pause(attempt, lost.overtaken_by)
        raise StoreUnavailable(f"append to {request.topic}: lost {self._max_attempts} races")

    def _mark_own_message_read(self, request: AppendRequest, seq: int) -> None:
        """Its own UpdateItem, after the transaction rather than in it: a transaction item costs
        2 WRU, this 1; and the message is stored either way, so a marker that cannot be written
        now is logged, never turned into a failed send."""
        try:
            self._mark_read(request.sender, request.topic, seq)
        except StoreUnavailable as exc:
            log.warning("read marker of %s on %s not moved: %s", request.sender, request.topic, exc)

    def _read_for_append(self, request: AppendRequest) -> tuple[Item | None, Item | None]:
        """The dedupe record and the topic head, in one consistent BatchGetItem."""
        partition = topic_pk(request.topic)
        record_sk = dedupe_sk(request.sender, request.client_msg_id)
        found = {
            str(item["sk"]): item
            for item in self._table.batch_get([key(partition, record_sk), key(partition, HEAD_SK)])
        }
        return found.get(record_sk), found.get(HEAD_SK)

    def _original_of(self, request: AppendRequest, record: Item | None) -> Message | None:
        """The message an unexpired dedupe record points at, if it is still stored.

        Like SQLite, the original is returned even when the message itself has expired; a record
        whose message is gone (TTL got there first) dedupes nothing.
        """
        if record is None or to_int(record["expiresAt"]) <= request.now_ms // 1000:
            return None
        stored = self._table.get(topic_pk(request.topic), message_sk(to_int(record["seq"])))
        return None if stored is None else message_from_item(stored)

    def _append_items(
        self, request: AppendRequest, message: Message, expected: int, seen: Item | None
    ) -> list[dict[str, Any]]:
        absent = "attribute_not_exists(#pk)"
        return [
            self._head_update(request, message.seq, expected),
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": dump(message_item(message)),
                    "ConditionExpression": absent,
                    **placeholders(absent),
                }
            },
            self._dedupe_put(request, message.seq, seen),
        ]

    def _head_update(self, request: AppendRequest, seq: int, expected: int) -> dict[str, Any]:
        """Advance the head if nobody else did; a None title keeps the old one, as in SQLite."""
        index = request.recency_index
        sets, removes = optional(
            kind="head",
            topic=request.topic,
            lastSeq=seq,
            updatedAt=request.now_ms,
            recencyIndex=index,
            gsi1pk=None if index is None else recent_pk(index),
            gsi1sk=None if index is None else recent_sk(request.now_ms, request.topic),
        )
        if request.title is not None:
            sets["title"] = request.title
        expression, values = update(sets, removes)
        condition = "attribute_not_exists(#pk) OR #lastSeq = :expected"
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": key(topic_pk(request.topic), HEAD_SK),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **placeholders(expression, condition, expected=expected, **values),
            }
        }

    def _dedupe_put(self, request: AppendRequest, seq: int, seen: Item | None) -> dict[str, Any]:
        """The dedupe record goes in only if it is still what ``_find_duplicate`` saw.

        Absent, or an expired or orphaned record (its message gone) that is replaced as SQLite
        replaces it; any change in between means a concurrent copy of this send committed.
        """
        if seen is None:
            condition, values = "attribute_not_exists(#pk)", {}
        else:
            condition = "#seq = :seenSeq AND #expiresAt = :seenExpiresAt"
            values = {"seenSeq": seen["seq"], "seenExpiresAt": seen["expiresAt"]}
        item = {
            "pk": topic_pk(request.topic),
            "sk": dedupe_sk(request.sender, request.client_msg_id),
            "kind": "dedupe",
            "from": request.sender,
            "cmid": request.client_msg_id,
            "seq": seq,
            "expiresAt": request.dedupe_expires_at,
        }
        return {
            "Put": {
                "TableName": self._table.name,
                "Item": dump(item),
                "ConditionExpression": condition,
                **placeholders(condition, **values),
            }
        }
