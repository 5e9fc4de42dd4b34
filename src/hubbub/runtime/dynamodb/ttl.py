"""DynamoDB's Time to Live on a DynamoDB endpoint that has none (moto, DynamoDB Local).

On AWS, once an item's TTL attribute (a Number, epoch seconds) is in the past, DynamoDB deletes
it, typically within a few days, and the table's stream carries that deletion as a ``REMOVE``
whose ``userIdentity`` is ``{"type": "Service", "principalId": "dynamodb.amazonaws.com"}``, which
is how a stream consumer tells an expiry from a delete by a user (*Using DynamoDB Streams and
Time to Live*). moto and DynamoDB Local accept the setting and never delete anything. So the
runtime sweeps: every so often each table with TTL enabled is scanned for expired items, and
each is deleted on the condition that it is still expired (an item whose TTL was pushed back
meanwhile stays, as on AWS). The endpoint's stream then has the ``REMOVE``; each stream reader
(``sources.py``, one per mapping) asks its own :meth:`TtlSweeper.reader` whether the sweep made
it, and if so gives the record DynamoDB's service identity.

Locally the sweep runs every minute, not within days: an app must still filter expired items
itself when it reads, as on AWS, and sees them go soon enough to test what it does then.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SERVICE_IDENTITY", "TtlSweeper", "TtlTable", "never_expired"]

SERVICE_IDENTITY: Mapping[str, str] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
"""The ``userIdentity`` of a stream record for an item TTL deleted."""

_REMEMBERED = 10_000
"""Deletions kept per reader until their stream record is read (oldest forgotten first)."""

Expiries = OrderedDict[str, None]
"""The keys (as text) the sweep deleted whose stream record one reader has not read yet."""


@dataclass(frozen=True, slots=True)
class TtlTable:
    name: str
    attribute: str
    keys: tuple[str, ...]
    """The key attributes (partition, then sort), as the table's ``KeySchema`` names them."""


class TtlSweeper:
    """Deletes expired items of ``tables`` through ``client`` (boto3 ``dynamodb``)."""

    def __init__(self, client: Any, tables: list[TtlTable]) -> None:
        self.client = client
        self.tables = tables
        self._readers: dict[str, list[Expiries]] = {t.name: [] for t in tables}
        self._lock = threading.Lock()
        """The sweep runs in a thread of its own, the stream readers in theirs."""

    def sweep(self, now_s: int) -> int:
        """Blocking: delete what has expired by ``now_s``; how many items went."""
        return sum(self._sweep_table(table, now_s) for table in self.tables)

    def _sweep_table(self, table: TtlTable, now_s: int) -> int:
        names = {"#ttl": table.attribute, **{f"#k{i}": k for i, k in enumerate(table.keys)}}
        scan: dict[str, Any] = {
            "TableName": table.name,
            "FilterExpression": _EXPIRED,
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(table.keys))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _values(now_s),
        }
        deleted = 0
        while True:
            page = self.client.scan(**scan)
            for key in page.get("Items") or []:
                if self._delete(table, key, now_s):
                    deleted += 1
            if not page.get("LastEvaluatedKey"):
                return deleted
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, table: TtlTable, key: dict[str, Any], now_s: int) -> bool:
        text = _key_text(key)
        readers = self._readers[table.name]
        with self._lock:
            for pending in readers:  # before the delete, so its stream record finds it
                pending[text] = None
        try:
            self.client.delete_item(
                TableName=table.name,
                Key=key,
                ConditionExpression=_EXPIRED,
                ExpressionAttributeNames={"#ttl": table.attribute},
                ExpressionAttributeValues=_values(now_s),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            with self._lock:
                for pending in readers:  # its TTL moved meanwhile: it stays
                    pending.pop(text, None)
            return False
        with self._lock:
            for pending in readers:
                while len(pending) > _REMEMBERED:
                    pending.popitem(last=False)
        return True

    def reader(self, table: str) -> Callable[[Mapping[str, Any]], Mapping[str, str] | None]:
        """For one reader of ``table``'s stream: DynamoDB's identity for the ``REMOVE`` of an item
        the sweep deleted, else None. Each deletion answers once per reader, so a later delete of
        the same key by a user is the user's."""
        if table not in self._readers:  # a table without TTL
            return never_expired
        pending: Expiries = OrderedDict()
        self._readers[table].append(pending)

        def identity_of(keys: Mapping[str, Any]) -> Mapping[str, str] | None:
            with self._lock:
                found = pending.pop(_key_text(keys), _ABSENT)
            return None if found is _ABSENT else SERVICE_IDENTITY

        return identity_of


_ABSENT = object()

_EXPIRED = "attribute_type(#ttl, :number) AND #ttl <= :now"
"""Expired: a Number at or before now. TTL ignores an attribute of any other type (and moto
fails a comparison of a String with a Number rather than finding it false)."""


def _values(now_s: int) -> dict[str, Any]:
    return {":number": {"S": "N"}, ":now": {"N": str(now_s)}}


def never_expired(keys: Mapping[str, Any]) -> Mapping[str, str] | None:
    """The reader of a table the sweep does not touch."""
    return None


def _key_text(keys: Mapping[str, Any]) -> str:
    """A key as text; binary parts as base64, as the stream reader has them."""
    return json.dumps(keys, sort_keys=True, default=_base64)


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"not a key part: {value!r}")
