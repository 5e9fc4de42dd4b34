"""``ParallelizationFactor``: a mapping that reads one shard as several lanes at once.

Lambda processes up to ten batches of a shard concurrently and still keeps the records of one
partition key in order. Here a lane is a poller of its own (``dynamodb/poller.py``) that reads the
whole stream and keeps the records whose partition key hashes to it: each key has one lane, so
its records stay in order, and each lane has its own checkpoint, retries, bisection and
on-failure handling, as a batch on AWS does. The hash (CRC-32 of the key's DynamoDB JSON) is
stable across restarts, so a key stays in its lane.

A lane's checkpoint is named ``{mapping}#{lane}`` (a factor of 1 keeps the mapping's own name, the
one it always had). When the factor changes between two starts, keys move between lanes, so every
lane starts again from the lowest position any lane of the mapping had reached: records between
that and a lane's own position may be delivered twice, none is skipped (Lambda delivers stream
records at least once). The lanes' open tumbling windows (``windows.py``) are dropped then: their
keys are no longer theirs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hubbub.streamlog import LogEntry

if TYPE_CHECKING:  # the template reader imports this module for MAX_FACTOR
    from hubbub.runtime.cloudformation.specs import TableSpec

__all__ = [
    "MAX_FACTOR",
    "SOLE",
    "Lane",
    "carry_checkpoints",
    "family_of",
    "hash_key_of",
    "lane_names",
    "poke_each",
]

MAX_FACTOR = 10
"""Lambda's limit for ``ParallelizationFactor`` (1-10)."""

_SEPARATOR = "#"
"""Between a mapping's name and its lane; CloudFormation logical ids and SAM event names are
alphanumeric, so no mapping's own name holds it."""


@dataclass(frozen=True, slots=True)
class Lane:
    """Lane ``index`` of ``count`` of a mapping whose table's partition key is ``hash_key``."""

    index: int = 0
    count: int = 1
    hash_key: str | None = None
    """None: hash every key attribute (a table whose key schema the template does not show)."""

    def name_for(self, mapping: str) -> str:
        return mapping if self.count == 1 else f"{mapping}{_SEPARATOR}{self.index}"

    def owns(self, entry: LogEntry) -> bool:
        return self.count == 1 or _bucket(entry.keys, self.hash_key, self.count) == self.index


SOLE = Lane()
"""The one lane of a mapping without a ``ParallelizationFactor``."""


def _bucket(keys: Mapping[str, Any], hash_key: str | None, count: int) -> int:
    key = keys.get(hash_key) if hash_key is not None else None
    chosen = keys if key is None else key
    return zlib.crc32(json.dumps(chosen, sort_keys=True).encode("utf-8")) % count


def hash_key_of(table: TableSpec) -> str | None:
    """The table's partition key attribute, from its ``KeySchema``."""
    for element in table.properties.get("KeySchema") or []:
        if isinstance(element, Mapping) and element.get("KeyType") == "HASH":
            return str(element.get("AttributeName"))
    return None


class Pokeable(Protocol):
    def poke(self) -> None: ...


def poke_each(lanes: Sequence[Pokeable]) -> Callable[[], None]:
    """One wake-up for every lane of a stream, for its tail's new records."""

    def poke() -> None:
        for lane in lanes:
            lane.poke()

    return poke


def lane_names(mapping: str, count: int) -> list[str]:
    return [Lane(i, count).name_for(mapping) for i in range(count)]


class Checkpoints(Protocol):
    """What ``carry_checkpoints`` needs of the runtime's state (``RuntimeState`` has it)."""

    def checkpoints_of(self, mapping: str) -> dict[str, int]: ...

    def save_checkpoint(self, mapping: str, seq: int) -> None: ...

    def forget_checkpoint(self, name: str) -> None: ...

    def close_window(self, name: str) -> None: ...


def carry_checkpoints(state: Checkpoints, mapping: str, count: int) -> bool:
    """Make the checkpoints of ``mapping`` those of ``count`` lanes; True when the factor changed
    since the last start and every lane now starts from the lowest position reached before."""
    wanted = lane_names(mapping, count)
    held = state.checkpoints_of(mapping)
    if not held or set(held) == set(wanted):
        return False
    floor = min(held.values())
    for name in wanted:
        state.save_checkpoint(name, floor)
        state.close_window(name)
    for name in set(held) - set(wanted):
        state.forget_checkpoint(name)
        state.close_window(name)
    return True


def family_of(mapping: str, name: str) -> bool:
    """Whether checkpoint ``name`` is ``mapping``'s own or one of its lanes'."""
    return name == mapping or name.startswith(mapping + _SEPARATOR)
