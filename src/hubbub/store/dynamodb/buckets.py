"""The rate limiter's buckets on DynamoDB: one item per key, taken with conditional writes.

Item: ``RATE#{key}`` | ``RATE`` | ``tat`` (the bucket's arrival time, epoch microseconds, see
``hubbub.store.buckets``), ``expiresAt`` once the bucket is full again (an absent item is a
full bucket, so TTL may delete it any time after).

A take is one UpdateItem while the user keeps under the rate (the bucket is full, ``tat`` lies in
the past: set it to now + one interval), and a second one during a burst (``tat`` is ahead of now:
add one interval while that keeps it within the burst). Concurrent takes from any number of
execution environments serialise on the item, so the limit holds across them; a refusal is
decided from the item DynamoDB returns with the failed condition, without a read.
"""

from __future__ import annotations

from typing import Any

from hubbub.store.buckets import Rate, take
from hubbub.store.dynamodb.client import ConditionFailed, Table
from hubbub.store.dynamodb.codec import to_int
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key

__all__ = ["RATE_SK", "DynamoBuckets", "rate_pk"]

RATE_SK = "RATE"


def rate_pk(bucket: str) -> str:
    return f"RATE#{bucket}"


def _expires_at(tat_us: int) -> int:
    """Epoch seconds by which the bucket is surely full again."""
    return -(-tat_us // 1_000_000) + 1


class DynamoBuckets:
    def __init__(self, table: Table) -> None:
        self._table = table

    def take_token(self, bucket: str, rate: Rate, now_ms: int) -> int:
        now_us = now_ms * 1000
        after = now_us + rate.interval_us
        try:
            self._update(
                bucket,
                "SET #tat = :after, #kind = :kind, #expiresAt = :exp",
                "attribute_not_exists(#tat) OR #tat <= :now",
                after=after,
                kind="rate",
                exp=_expires_at(after),
                now=now_us,
            )
            return 0
        except ConditionFailed as full:
            tat = self._tat(bucket, full)
        decided = take(tat, now_us, rate)
        if not decided.allowed:
            return decided.wait_us
        try:
            self._update(
                bucket,
                "SET #tat = #tat + :interval, #expiresAt = :exp",
                "#tat <= :limit",
                interval=rate.interval_us,
                exp=_expires_at(now_us + rate.span_us),
                limit=now_us + rate.span_us - rate.interval_us,
            )
            return 0
        except ConditionFailed as taken:  # others took the last tokens meanwhile
            return max(1, take(self._tat(bucket, taken), now_us, rate).wait_us)

    def _update(self, bucket: str, expression: str, condition: str, **values: Any) -> None:
        self._table.call(
            "update_item",
            TableName=self._table.name,
            Key=key(rate_pk(bucket), RATE_SK),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **placeholders(expression, condition, **values),
        )

    def _tat(self, bucket: str, refused: ConditionFailed) -> int | None:
        item = refused.item or self._table.get(rate_pk(bucket), RATE_SK)
        return None if item is None or "tat" not in item else to_int(item["tat"])
