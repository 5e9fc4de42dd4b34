"""moto's DynamoDB made fast enough to serve a chat for hours: cheap rollbacks, partition queries.

moto rolls a cancelled TransactWriteItems back by restoring a ``copy.deepcopy`` of every table
the transaction names, stream records included, taken once per item of the transaction: seconds
per write once a table holds a few thousand items, which is where a chat table is after a few
minutes. A transaction can only change the items it names (at most 100) and append to the
table's stream, so ``faster_moto`` saves exactly that instead: a deep copy of each named
item (or the fact that it was absent) and the length of each stream shard, and puts them back
in place when moto raises. The tables' own deep copies become no-ops for the duration.

moto also answers a Query on a table's key by walking every item of the table to find the
partition's: 50 ms a query at 3,000 items, and every send and fan-out queries. ``faster_moto``
hands that walk the one partition the key names (an index Query still walks the table, as it
must: moto keeps no index of its own).

Used by the embedded moto of ``hubbub serve --store dynamodb`` (``dynamodb.motoserver``), the
contract suite and the capacity tool. It relies on moto 5.2 internals (``Table.items`` keyed by
``DynamoType``, ``Table.stream_shard.items``, ``DynamoDBBackend.transact_write_items``), pinned in
constraints.txt and covered by ``tests/unit/test_motofast.py``: revisit on a moto upgrade.
The patches keep their state per thread, but moto itself has no locks: serve one request at a
time, as the runtime and the contract suite do, wherever writes may race.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["faster_moto", "forget_tracked_models"]

# per thread (context): moto server mode may serve requests on several threads
_IN_TRANSACTION: ContextVar[bool] = ContextVar("hubbub_moto_in_transaction", default=False)
_QUERIED: ContextVar[tuple[Any, Any] | None] = ContextVar("hubbub_moto_queried", default=None)
_PATCHED = "_hubbub_faster_moto"


@dataclass(slots=True)
class _Saved:
    table: Any
    hash_key: Any
    range_key: Any
    item: Any  # a deep copy, or None when the item did not exist


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> tuple[Any, Any] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    raw = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(raw, dict) or table.hash_key_attr not in raw:
        return None  # moto rejects it before writing anything
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in raw:
            return None
        range_key = DynamoType(raw[table.range_key_attr])
    return DynamoType(raw[table.hash_key_attr]), range_key


def _current(table: Any, hash_key: Any, range_key: Any) -> Any:
    stored = table.items.get(hash_key)  # .get: ``items`` is a defaultdict
    if range_key is None or stored is None:
        return stored
    return stored.get(range_key)


def _save(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[list[_Saved], list[Any]]:
    saved: list[_Saved] = []
    shards: dict[int, tuple[Any, int]] = {}
    for entry in transact_items:
        if not isinstance(entry, dict) or not entry:
            continue
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        key = _key_of(table, op_type, op)
        if key is None:
            continue
        item = _current(table, *key)
        saved.append(_Saved(table, key[0], key[1], None if item is None else copy.deepcopy(item)))
        shard = table.stream_shard
        if shard is not None and id(shard) not in shards:
            shards[id(shard)] = (shard, len(shard.items))
    return saved, list(shards.values())


def _restore(saved: list[_Saved], shards: list[Any]) -> None:
    for entry in reversed(saved):  # the first copy of a key is the state before the transaction
        items = entry.table.items
        if entry.range_key is None:
            if entry.item is None:
                items.pop(entry.hash_key, None)
            else:
                items[entry.hash_key] = entry.item
            continue
        partition = items.get(entry.hash_key)
        if entry.item is not None:
            items[entry.hash_key][entry.range_key] = entry.item
        elif partition is not None:
            partition.pop(entry.range_key, None)
            if not partition:
                del items[entry.hash_key]
    for shard, length in shards:
        del shard.items[length:]


def _table_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    """Inside a transaction the table is its own restore point; elsewhere a true deep copy."""
    if _IN_TRANSACTION.get():
        return table
    clone = object.__new__(type(table))
    memo[id(table)] = clone
    clone.__dict__.update(copy.deepcopy(table.__dict__, memo))
    return clone


def _partition_items(table: Any, hash_key: Any) -> list[Any]:
    stored = table.items.get(hash_key)
    if stored is None:
        return []
    return list(stored.values()) if table.range_key_attr else [stored]


@contextmanager
def faster_moto() -> Iterator[None]:
    """Patch moto: transactions save and restore only the items they name, and a Query on the
    table's own key reads only its partition. Inside another ``faster_moto`` it does nothing:
    the patches must not stack (each would read the other's arguments as moto's)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, _PATCHED, False):
        yield
        return
    original = DynamoDBBackend.transact_write_items
    original_query = Table.query

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved, shards = _save(self, transact_items)
        token = _IN_TRANSACTION.set(True)
        try:
            original(self, transact_items)
        except BaseException:
            _restore(saved, shards)
            raise
        finally:
            _IN_TRANSACTION.reset(token)

    takes = inspect.signature(original_query)
    original_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        named = takes.bind(self, hash_key, *args, **kwargs).arguments
        if named.get("index_name") or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        # moto's key Query reads ``all_items()`` once, for its candidates
        token = _QUERIED.set((self, hash_key))
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERIED.reset(token)

    def all_items(self: Any) -> list[Any]:
        queried = _QUERIED.get()
        if queried is not None and queried[0] is self:
            return _partition_items(self, queried[1])
        return original_all_items(self)

    setattr(query, _PATCHED, True)
    had_deepcopy = "__deepcopy__" in Table.__dict__
    previous_deepcopy = Table.__dict__.get("__deepcopy__")
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        Table.query = original_query  # type: ignore[method-assign]
        Table.all_items = original_all_items  # type: ignore[method-assign]
        if had_deepcopy:
            Table.__deepcopy__ = previous_deepcopy  # type: ignore[attr-defined]
        else:
            del Table.__deepcopy__  # type: ignore[attr-defined]


def forget_tracked_models() -> None:
    """Drop moto's registry of every model instance ever made (only its dashboard reads it).

    Each item written, and each copy moto takes of one, is appended to a class-level list that is
    never emptied: a leak in a server that runs for hours.
    """
    from moto.core.model_instances import reset_model_data

    reset_model_data()
