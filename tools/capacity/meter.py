"""Count what a DynamoDB client is billed for, from its own requests and the responses it gets.

A :class:`CapacityMeter` hooks a botocore client's ``before-call.dynamodb.*`` and
``after-call.dynamodb.*`` events, so every request the code under measurement makes (through
whatever layers of its own) is seen as sent on the wire. It does not use ``ConsumedCapacity``
(moto's is not DynamoDB's): it applies :mod:`tools.capacity.billing` to the items involved. What a
response does not show, a second *probe* client (not metered) reads from the same endpoint:

- the item before and after each write (a write bills the larger image, and index upkeep depends
  on both), read with GetItem around the call;
- the items a Query or Scan read but did not return (a FilterExpression bills what it discarded,
  a ProjectionExpression bills whole items): the same page is asked for again without them.

The probe's reads are never counted. The code under measurement must run on one thread at a time
against the endpoint (true of a Lambda invocation), so the images taken around a call are its own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tools.capacity.billing import (
    IndexSpec,
    batch_get_units,
    get_units,
    index_write_units,
    query_units,
    write_units,
)

__all__ = ["CapacityMeter", "Tally"]

Item = dict[str, Any]
_TABLE = "table"
_WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


@dataclass
class Tally:
    """What some requests cost: request units, calls by operation, the IAM actions they need."""

    read_units: float = 0.0
    write_units: float = 0.0
    """Table writes, transactional ones counted double."""
    index_write_units: float = 0.0
    """Global secondary index upkeep caused by those writes."""
    calls: Counter[str] = field(default_factory=Counter)
    cancelled_transactions: int = 0
    """Billed as the prepare phase only (1x per item): an estimate, see ``CapacityMeter``."""
    iam: set[tuple[str, str]] = field(default_factory=set)
    """(action, resource) pairs, resource ``table`` or ``index/{name}``."""

    @property
    def total_write_units(self) -> float:
        return self.write_units + self.index_write_units

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def add(self, other: Tally) -> None:
        self.read_units += other.read_units
        self.write_units += other.write_units
        self.index_write_units += other.index_write_units
        self.calls.update(other.calls)
        self.cancelled_transactions += other.cancelled_transactions
        self.iam |= other.iam


@dataclass(frozen=True, slots=True)
class _Schema:
    key_attributes: tuple[str, ...]
    indexes: tuple[IndexSpec, ...]

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.key_attributes}


class CapacityMeter:
    """Meters one client; ``probe`` is a plain client on the same endpoint, never metered."""

    def __init__(self, client: Any, probe: Any) -> None:
        self._probe = probe
        self._schemas: dict[str, _Schema] = {}
        self._tally = Tally()
        self.client = client
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        """Count the requests made inside the ``with`` block into a fresh :class:`Tally`."""
        outer, self._tally = self._tally, Tally()
        try:
            yield self._tally
        finally:
            outer.add(self._tally)
            self._tally = outer

    # hooks ------------------------------------------------------------------------------------
    def _before(
        self, model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        operation = str(model.name)
        body = params.get("body") or b"{}"
        request = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        context["capacity.request"] = (operation, request, self._images(operation, request))

    def _after(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        operation, request, before = context.pop("capacity.request")
        error = str((parsed.get("Error") or {}).get("Code", ""))
        tally = self._tally
        tally.calls[operation] += 1
        if operation == "GetItem":
            self._get(tally, request, parsed, error)
        elif operation == "BatchGetItem":
            self._batch_get(tally, request, parsed, error)
        elif operation in ("Query", "Scan"):
            self._query(tally, operation, request, parsed, error)
        elif operation in _WRITE_OPERATIONS:
            self._write(tally, operation, request, before, error)
        elif operation == "TransactWriteItems":
            self._transact(tally, request, before, error)
        elif operation == "BatchWriteItem":
            self._batch_write(tally, request, parsed, before, error)
        # anything else (DescribeTable...) is a control-plane call and bills no request units

    # reads ------------------------------------------------------------------------------------
    def _get(self, tally: Tally, request: Item, parsed: Mapping[str, Any], error: str) -> None:
        tally.iam.add(("dynamodb:GetItem", _TABLE))
        if error:
            return
        item = parsed.get("Item")
        if item is not None and "ProjectionExpression" in request:
            item = self._read(request["TableName"], request["Key"])
        tally.read_units += get_units(item, consistent=bool(request.get("ConsistentRead")))

    def _batch_get(
        self, tally: Tally, request: Item, parsed: Mapping[str, Any], error: str
    ) -> None:
        tally.iam.add(("dynamodb:BatchGetItem", _TABLE))
        if error:
            return
        for table, spec in request["RequestItems"].items():
            unprocessed = ((parsed.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys", [])
            found: list[Item] = list((parsed.get("Responses") or {}).get(table, []))
            if "ProjectionExpression" in spec:
                schema = self._schema(table)
                full = [self._read(table, schema.key_of(item)) for item in found]
                found = [item for item in full if item is not None]
            missing = len(spec["Keys"]) - len(unprocessed) - len(found)
            consistent = bool(spec.get("ConsistentRead"))
            tally.read_units += batch_get_units(found, missing, consistent=consistent)

    def _query(
        self, tally: Tally, operation: str, request: Item, parsed: Mapping[str, Any], error: str
    ) -> None:
        index = request.get("IndexName")
        tally.iam.add((f"dynamodb:{operation}", _TABLE if index is None else f"index/{index}"))
        if error:
            return
        items: list[Item] = list(parsed.get("Items", []))
        narrowed = {"FilterExpression", "ProjectionExpression", "Select"} & set(request)
        if narrowed:
            items = self._items_read(operation, request)
        consistent = index is None and bool(request.get("ConsistentRead"))
        tally.read_units += query_units(items, consistent=consistent)

    def _items_read(self, operation: str, request: Item) -> list[Item]:
        """The same page again without filter or projection: every item the request read."""
        again = {
            k: v
            for k, v in request.items()
            if k not in ("FilterExpression", "ProjectionExpression", "Select")
        }
        expressions = " ".join(str(again[k]) for k in ("KeyConditionExpression",) if k in again)
        for part, pattern in (
            ("ExpressionAttributeNames", r"#\w+"),
            ("ExpressionAttributeValues", r":\w+"),
        ):
            used = set(re.findall(pattern, expressions))
            kept = {k: v for k, v in (again.get(part) or {}).items() if k in used}
            if kept:
                again[part] = kept
            else:
                again.pop(part, None)
        method = self._probe.query if operation == "Query" else self._probe.scan
        return list(method(**again).get("Items", []))

    # writes -----------------------------------------------------------------------------------
    def _images(self, operation: str, request: Item) -> list[Item | None]:
        """The current image of every item a write request names, in request order."""
        return [self._read(table, key) for table, key, _ in self._targets(operation, request)]

    def _targets(self, operation: str, request: Item) -> list[tuple[str, Item, str]]:
        """(table, key, IAM action) of each item a write request names."""
        if operation in _WRITE_OPERATIONS:
            table = request["TableName"]
            key = (
                request["Key"] if "Key" in request else self._schema(table).key_of(request["Item"])
            )
            return [(table, key, f"dynamodb:{operation}")]
        targets: list[tuple[str, Item, str]] = []
        if operation == "TransactWriteItems":
            for entry in request["TransactItems"]:
                ((kind, spec),) = entry.items()
                table = spec["TableName"]
                key = spec["Key"] if "Key" in spec else self._schema(table).key_of(spec["Item"])
                targets.append((table, key, _TRANSACT_ACTIONS[kind]))
        elif operation == "BatchWriteItem":
            for table, requests in request["RequestItems"].items():
                for entry in requests:
                    if "PutRequest" in entry:
                        key = self._schema(table).key_of(entry["PutRequest"]["Item"])
                    else:
                        key = entry["DeleteRequest"]["Key"]
                    targets.append((table, key, "dynamodb:BatchWriteItem"))
        return targets

    def _write(
        self, tally: Tally, operation: str, request: Item, before: list[Item | None], error: str
    ) -> None:
        ((table, key, action),) = self._targets(operation, request)
        tally.iam.add((action, _TABLE))
        (old,) = before
        if error == "ConditionalCheckFailedException":
            tally.write_units += write_units(old, old)
            return
        if error:
            return
        new = self._read(table, key)
        tally.write_units += write_units(old, new)
        tally.index_write_units += self._index_units(table, old, new)

    def _transact(self, tally: Tally, request: Item, before: list[Item | None], error: str) -> None:
        targets = self._targets("TransactWriteItems", request)
        for _, _, action in targets:
            tally.iam.add((action, _TABLE))
        if error == "TransactionCanceledException":
            # Billed for the work done before the cancel; take it as one (non-doubled) write each.
            tally.cancelled_transactions += 1
            tally.write_units += sum(write_units(old, old) for old in before)
            return
        if error:
            return
        for (table, key, _), old in zip(targets, before, strict=True):
            new = self._read(table, key)
            tally.write_units += write_units(old, new, transactional=True)
            tally.index_write_units += self._index_units(table, old, new)

    def _batch_write(
        self,
        tally: Tally,
        request: Item,
        parsed: Mapping[str, Any],
        before: list[Item | None],
        error: str,
    ) -> None:
        tally.iam.add(("dynamodb:BatchWriteItem", _TABLE))
        if error:
            return
        if parsed.get("UnprocessedItems"):
            raise NotImplementedError("BatchWriteItem left items unprocessed: not metered")
        for (table, key, _), old in zip(
            self._targets("BatchWriteItem", request), before, strict=True
        ):
            new = self._read(table, key)
            tally.write_units += write_units(old, new)
            tally.index_write_units += self._index_units(table, old, new)

    def _index_units(self, table: str, old: Item | None, new: Item | None) -> float:
        return sum(index_write_units(old, new, index) for index in self._schema(table).indexes)

    # probe ------------------------------------------------------------------------------------
    def _read(self, table: str, key: Mapping[str, Any]) -> Item | None:
        response = self._probe.get_item(TableName=table, Key=dict(key), ConsistentRead=True)
        item: Item | None = response.get("Item")
        return item

    def _schema(self, table: str) -> _Schema:
        schema = self._schemas.get(table)
        if schema is None:
            description = self._probe.describe_table(TableName=table)["Table"]
            indexes = tuple(
                IndexSpec(
                    name=index["IndexName"],
                    key_attributes=tuple(k["AttributeName"] for k in index["KeySchema"]),
                )
                for index in description.get("GlobalSecondaryIndexes", [])
            )
            keys = tuple(k["AttributeName"] for k in description["KeySchema"])
            schema = self._schemas[table] = _Schema(keys, indexes)
        return schema
