"""Pending emails to visitors who left, and their opt-outs, on DynamoDB.

A conversation's pending mail is one item in its topic's partition, ``T#{topic}`` | ``MAIL``
(answerSeq, mailedSeq, lastSentAt, and dueAt while a mail is pending). While it is pending it
also carries gsi1pk ``MAILDUE`` and gsi1sk ``{dueAt:013d}#{topic}``: a sparse index of pending
mails only, which the scheduled sender reads with one Query (earliest first) instead of
scanning conversations. A visitor's opt-out is ``U#{visitor}`` | ``MAILOPTOUT``.

Every write is one conditional UpdateItem or PutItem, so a stream retry queues nothing twice
and of two senders only one claims a mail. ``DynamoStore`` takes these methods from
``DynamoMailings``, which needs only its ``_table``.
"""

from __future__ import annotations

from typing import Any

from hubbub.ids import Topic, UserId
from hubbub.store.dynamodb.client import ConditionFailed, Table
from hubbub.store.dynamodb.codec import Item, load, to_int
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key, user_pk
from hubbub.store.dynamodb.schema import GSI1
from hubbub.store.items import topic_pk
from hubbub.store.records import PendingMail
from hubbub.store.roles import Mailings

__all__ = ["MAIL_DUE_INDEX_KEY", "DynamoMailings"]

MAIL_DUE_INDEX_KEY = "MAILDUE"
_MAIL_SK = "MAIL"
_OPT_OUT_SK = "MAILOPTOUT"


def _due_key(due_at: int, topic: str) -> str:
    return f"{due_at:013d}#{topic}"


def _pending(item: Item) -> PendingMail:
    last = item.get("lastSentAt")
    return PendingMail(
        topic=Topic(str(item["topic"])),
        visitor_id=UserId(str(item["visitor"])),
        due_at=to_int(item["dueAt"]),
        answer_seq=to_int(item["answerSeq"]),
        mailed_seq=to_int(item.get("mailedSeq", 0)),
        last_sent_at=None if last is None else to_int(last),
    )


class DynamoMailings(Mailings):
    _table: Table

    def _update(self, conversation: str, expression: str, condition: str, **values: Any) -> Item:
        response = self._table.call(
            "update_item",
            TableName=self._table.name,
            Key=key(topic_pk(conversation), _MAIL_SK),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ReturnValues="ALL_NEW",
            **placeholders(expression, condition, **values),
        )
        return load(response["Attributes"])

    def queue_mail(self, topic: Topic, visitor_id: UserId, answer_seq: int, due_at: int) -> bool:
        expression = (
            "SET #kind = :kind, #topic = :topic, #visitor = :visitor, #answerSeq = :seq,"
            " #mailedSeq = if_not_exists(#mailedSeq, :zero), #dueAt = if_not_exists(#dueAt, :due),"
            " #gsi1pk = :index, #gsi1sk = if_not_exists(#gsi1sk, :dueKey)"
        )
        condition = (
            "(attribute_not_exists(#answerSeq) OR #answerSeq < :seq)"
            " AND (attribute_not_exists(#mailedSeq) OR #mailedSeq < :seq)"
        )
        try:
            self._update(
                topic,
                expression,
                condition,
                kind="mail",
                topic=topic,
                visitor=visitor_id,
                seq=answer_seq,
                zero=0,
                due=due_at,
                index=MAIL_DUE_INDEX_KEY,
                dueKey=_due_key(due_at, topic),
            )
        except ConditionFailed:
            return False
        return True

    def due_mails(self, now_ms: int, limit: int) -> list[PendingMail]:
        condition = "#gsi1pk = :index AND #gsi1sk < :upto"
        request = {
            "IndexName": GSI1,
            "KeyConditionExpression": condition,
            "Limit": max(1, limit),
            **placeholders(condition, index=MAIL_DUE_INDEX_KEY, upto=f"{now_ms + 1:013d}"),
        }
        found: list[PendingMail] = []
        for page in self._table.pages(request):
            found.extend(_pending(item) for item in page if "dueAt" in item)
            if len(found) >= limit:
                break
        return found[:limit]

    def claim_mail(self, topic: Topic, due_at: int, until: int) -> bool:
        expression = "SET #dueAt = :until, #gsi1sk = :dueKey"
        try:
            self._update(
                topic,
                expression,
                "#dueAt = :due",
                until=until,
                dueKey=_due_key(until, topic),
                due=due_at,
            )
        except ConditionFailed:
            return False
        return True

    def finish_mail(
        self, topic: Topic, mailed_seq: int, sent_at: int | None, next_due_at: int
    ) -> PendingMail | None:
        sent = "" if sent_at is None else ", #lastSentAt = :sent"
        values = {"mailed": mailed_seq, "sent": sent_at}
        try:
            self._update(
                topic,
                f"SET #mailedSeq = :mailed{sent} REMOVE #dueAt, #gsi1pk, #gsi1sk",
                "attribute_exists(#pk) AND #answerSeq <= :mailed",
                **values,
            )
            return None
        except ConditionFailed:
            pass
        try:  # an answer came after the ones just mailed: it waits for the next window
            item = self._update(
                topic,
                f"SET #mailedSeq = :mailed{sent}, #dueAt = :next, #gsi1pk = :index,"
                " #gsi1sk = :dueKey",
                "#answerSeq > :mailed",
                next=next_due_at,
                index=MAIL_DUE_INDEX_KEY,
                dueKey=_due_key(next_due_at, topic),
                **values,
            )
        except ConditionFailed:
            return None
        return _pending(item)

    def opt_out(self, visitor_id: UserId, now_ms: int) -> bool:
        condition = "attribute_not_exists(#pk)"
        item = {"pk": user_pk(visitor_id), "sk": _OPT_OUT_SK, "kind": "mailOptOut"}
        try:
            self._table.call(
                "put_item",
                TableName=self._table.name,
                Item={
                    **{k: {"S": v} for k, v in item.items()},
                    "createdAt": {"N": str(now_ms)},
                },
                ConditionExpression=condition,
                **placeholders(condition),
            )
        except ConditionFailed:
            return False
        return True

    def opted_out(self, visitor_id: UserId) -> bool:
        return self._table.get(user_pk(visitor_id), _OPT_OUT_SK) is not None
