"""DynamoDB's billing rules, as functions of item sizes: no I/O, no boto3.

On-demand tables bill read request units (RRU) and write request units (WRU) by the same rules as
provisioned capacity units (https://aws.amazon.com/dynamodb/pricing/on-demand/, and the developer
guide's "DynamoDB item sizes and formats" and "DynamoDB read and write operations"):

- Item size: the UTF-8 bytes of every attribute name plus its value: strings their UTF-8 bytes,
  numbers 1 byte per two significant digits plus 1, binary its raw bytes, null and booleans 1
  byte, lists and maps 3 bytes plus their elements plus 1 byte per element, sets their elements.
- Reads come in 4 KB units: a strongly consistent read of up to 4 KB is 1 unit, an eventually
  consistent one half a unit, a transactional one 2 units. GetItem rounds the item up; a missing
  item still costs one (half) unit. BatchGetItem rounds each item up on its own. Query and Scan
  add up the size of every item *read* (before any FilterExpression, whatever the projection)
  and round the total up once per request. A query of a global secondary index is eventually
  consistent.
- Writes come in 1 KB units: PutItem and UpdateItem bill the larger of the item before and after,
  DeleteItem the deleted item, at least 1 unit even for an absent item or a refused condition. A
  write in TransactWriteItems costs twice that.
- Keeping a global secondary index up to date costs index writes: 1 write when an item enters,
  leaves or changes inside the index, 2 when its index key changes (a delete and a put). They are
  standard writes even when the table write was transactional.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "READ_UNIT_BYTES",
    "WRITE_UNIT_BYTES",
    "IndexSpec",
    "attribute_value_size",
    "batch_get_units",
    "get_units",
    "index_write_units",
    "item_size",
    "query_units",
    "write_units",
]

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024

Item = Mapping[str, Any]
"""An item in DynamoDB's wire format: attribute name -> ``{"S": "..."}`` and the like."""


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A global secondary index: its name and the attributes of its key."""

    name: str
    key_attributes: tuple[str, ...]

    def key_of(self, item: Item | None) -> tuple[str, ...] | None:
        """The item's index key (as wire values), or None when the item is not in the index."""
        if item is None or any(name not in item for name in self.key_attributes):
            return None
        return tuple(repr(item[name]) for name in self.key_attributes)


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeroes trimmed)."""
    digits = Decimal(text).as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in wire format (without its name)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return _utf8(str(raw))
    if kind == "N":
        return _number_size(str(raw))
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(str(v)) for v in raw)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in raw)
    if kind == "BS":
        return sum(len(v) for v in raw)
    if kind == "L":
        return 3 + sum(attribute_value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(_utf8(k) + attribute_value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """The billed size of an item in bytes; 0 for no item."""
    if item is None:
        return 0
    return sum(_utf8(name) + attribute_value_size(value) for name, value in item.items())


def _read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def get_units(item: Item | None, *, consistent: bool) -> float:
    """GetItem: the item rounded up to 4 KB; one (half) unit if there is no item."""
    return _read_units(item_size(item), consistent=consistent)


def batch_get_units(items: Iterable[Item], missing: int, *, consistent: bool) -> float:
    """BatchGetItem: each item found rounded up on its own, each key not found one (half) unit."""
    found = sum(get_units(item, consistent=consistent) for item in items)
    return found + missing * _read_units(0, consistent=consistent)


def query_units(items_read: Iterable[Item], *, consistent: bool) -> float:
    """Query or Scan (one request): every item read, added up, then rounded up to 4 KB once."""
    return _read_units(sum(item_size(item) for item in items_read), consistent=consistent)


def write_units(before: Item | None, after: Item | None, *, transactional: bool = False) -> float:
    """PutItem/UpdateItem/DeleteItem: the larger image in 1 KB units, at least one; x2 in a
    transaction. A refused condition is billed like the write with ``after = before``."""
    size = max(item_size(before), item_size(after))
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return float(units * (2 if transactional else 1))


def index_write_units(before: Item | None, after: Item | None, index: IndexSpec) -> float:
    """The writes a change of one item costs in one global secondary index (ALL projection)."""
    old_key, new_key = index.key_of(before), index.key_of(after)

    def units(item: Item | None) -> float:
        return float(max(1, math.ceil(item_size(item) / WRITE_UNIT_BYTES)))

    if old_key is None and new_key is None:
        return 0.0
    if old_key is None:
        return units(after)
    if new_key is None:
        return units(before)
    if old_key != new_key:
        return units(before) + units(after)
    if before == after:
        return 0.0
    return max(units(before), units(after))
