"""A cheaper restore point for moto's DynamoDB transactions, shared by the contract suite and the
capacity measurements (both run moto in server mode on 127.0.0.1).

moto rolls a cancelled transaction back by ``copy.deepcopy`` of the whole table (stream records
included), taken once per item of every transaction: seconds per write once a table holds a few
thousand items. ``table_snapshot`` builds the same restore point from the partition maps and each
item's top-level attribute map, which is all a rollback needs for the writes hubbub makes (whole
items, top-level SET/REMOVE); stream records are append-only. It relies on moto 5.2 internals
(``Table.items``, ``stream_shard``, ``Item.attrs``): revisit on a moto upgrade.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["faster_rollbacks", "table_snapshot"]


def _shallow(model: Any) -> Any:
    """A shallow copy that skips moto's ``BaseModel.__new__``, which tracks (leaks) instances."""
    clone = object.__new__(type(model))
    clone.__dict__.update(model.__dict__)
    return clone


def _item_copy(item: Any) -> Any:
    """An Item with its own attribute map; the attribute values themselves are shared."""
    clone = _shallow(item)
    attrs_type: type[dict[str, Any]] = type(item.attrs)
    attrs = attrs_type.__new__(attrs_type)
    dict.update(attrs, item.attrs)  # skips moto's per-key size re-validation (already checked)
    clone.attrs = attrs
    return clone


def table_snapshot(table: Any) -> Any:
    """What a transaction rollback restores: partitions, items and their attribute maps."""
    clone = _shallow(table)
    clone.items = type(table.items)(table.items.default_factory)
    for hash_key, stored in table.items.items():
        if isinstance(stored, dict):
            clone.items[hash_key] = {rk: _item_copy(item) for rk, item in stored.items()}
        else:
            clone.items[hash_key] = _item_copy(stored)
    if table.stream_shard is not None:
        shard = _shallow(table.stream_shard)
        shard.items = list(table.stream_shard.items)
        shard.table = clone
        clone.stream_shard = shard
    return clone


@contextmanager
def faster_rollbacks(
    snapshot: Callable[[Any, dict[int, Any]], Any] | None = None,
) -> Iterator[None]:
    """Install ``snapshot`` (default: ``table_snapshot``) as moto's table ``__deepcopy__``."""
    from moto.dynamodb.models.table import Table

    had = "__deepcopy__" in Table.__dict__
    previous = Table.__dict__.get("__deepcopy__")
    Table.__deepcopy__ = snapshot or (lambda table, memo: table_snapshot(table))  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if had:
            Table.__deepcopy__ = previous  # type: ignore[attr-defined]
        else:
            del Table.__deepcopy__  # type: ignore[attr-defined]
