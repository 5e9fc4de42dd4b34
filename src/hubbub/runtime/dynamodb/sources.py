"""Where a stream mapping reads its stream from, in order, by position.

Two sources: the ``stream_log`` a SQLite-backed store appends to (:class:`SqliteStreamSource`), or
a real table's stream read through the ``dynamodbstreams`` API (:class:`DynamoStreamSource`). Both
answer the same two questions (:class:`StreamSource`), so the poller (``dynamodb/poller.py``) does
not know which store is behind the table.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import datetime
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hubbub import streamlog
from hubbub.runtime.dynamodb.ttl import never_expired

__all__ = ["POISON_ITEM", "DynamoStreamSource", "SqliteStreamSource", "StreamSource"]

log = logging.getLogger("hubbub.streams")


class StreamSource(Protocol):
    """A stream as the poller sees it: positions only grow, so a checkpoint is one number."""

    def latest(self) -> int: ...

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]: ...


POISON_ITEM: Mapping[str, Any] = {
    "pk": "T#room/poison",
    "sk": "M#poison",
    "kind": "msg",
    "poison": True,
}
"""An item that claims to be a message but lacks its fields: no handler can decode its record.
``POST /_runtime/poison`` puts one into every mapping's stream."""


class SqliteStreamSource:
    """The ``stream_log`` of a SQLite-backed table (see ``hubbub.streamlog``)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self._path.exists():
                return None
            self._db = sqlite3.connect(str(self._path), isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=2000")
        return self._db

    def latest(self) -> int:
        db = self._conn()
        if db is None:
            return 0
        try:
            row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM stream_log").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0])

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]:
        db = self._conn()
        if db is None:
            return []
        try:
            return streamlog.read_after(db, position, limit)
        except sqlite3.OperationalError:
            return []

    def append_poison(self, now_ms: int) -> None:
        """Append ``POISON_ITEM``'s INSERT record to the stream (fault injection)."""
        db = self._conn()
        if db is None:
            raise RuntimeError(f"no table file at {self._path} yet")
        db.execute("BEGIN IMMEDIATE")
        streamlog.append(db, "INSERT", dict(POISON_ITEM), now_ms)
        db.execute("COMMIT")


class DynamoStreamSource:
    """A table's stream read through the ``dynamodbstreams`` API, as Lambda's poller reads it:
    DescribeStream for the shards, GetShardIterator (TRIM_HORIZON, then AFTER_SEQUENCE_NUMBER of
    the last record seen), GetRecords until a page comes back empty.

    A background task (:meth:`start`) tails the stream into an in-memory buffer ordered by
    sequence number, woken by :meth:`poke` after every invocation and every ``interval_s``
    otherwise; :meth:`read_after` and :meth:`latest` only read that buffer, so the poller never
    waits on the network inside the event loop. A record's position is its sequence number as an
    int, so checkpoints are the stream's own and survive a restart on a persistent endpoint.
    Records older than the stream's 24-hour retention are dropped, as DynamoDB trims them.
    With several shards (DynamoDB Local, AWS) records are merged in sequence-number order.
    The lanes of a mapping with a ``ParallelizationFactor`` share one tail through
    :meth:`reader`s: a record is let go once every reader has passed it.
    """

    def __init__(
        self,
        client: Any,
        stream_arn: str,
        *,
        retention_s: float = 24 * 3600,
        describe_every_s: float = 30.0,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        expired_by: Callable[[Mapping[str, Any]], Mapping[str, str] | None] = never_expired,
    ) -> None:
        """``expired_by(keys)``: the ``userIdentity`` of a ``REMOVE`` that the runtime's TTL
        sweep made (``ttl.py``); a record that carries its own keeps it."""
        self.client = client
        self.stream_arn = stream_arn
        self._expired_by = expired_by
        self._retention_ms = int(retention_s * 1000)
        self._describe_every_s = describe_every_s
        self._now_ms = now_ms
        self._lock = threading.Lock()
        self._buffer: list[streamlog.LogEntry] = []
        self._latest = 0
        self._shards: dict[str, _Shard] = {}
        self._described_at: float | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._readers: list[int] = []
        """Each reader's last position (see :meth:`reader`)."""

    # what the poller reads ----------------------------------------------------------------------
    def latest(self) -> int:
        with self._lock:
            return self._latest

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]:
        """For the one poller of a mapping: what it has passed is let go."""
        return self._read(position, position, limit)

    def reader(self) -> StreamSource:
        """A source of its own for one of several lanes reading this stream."""
        self._readers.append(0)
        return _Reader(self, len(self._readers) - 1)

    def read_as(self, reader: int, position: int, limit: int) -> list[streamlog.LogEntry]:
        """What reader ``reader`` (of :meth:`reader`) reads after ``position``."""
        with self._lock:
            self._readers[reader] = position
            passed = min(self._readers)
        return self._read(position, passed, limit)

    def _read(self, position: int, passed: int, limit: int) -> list[streamlog.LogEntry]:
        cutoff = self._now_ms() - self._retention_ms
        with self._lock:
            keep = 0
            while keep < len(self._buffer) and (
                self._buffer[keep].seq <= passed or self._buffer[keep].created_ms < cutoff
            ):
                keep += 1
            del self._buffer[:keep]  # handled (checkpoints never move back) or trimmed
            start = bisect.bisect_right(self._buffer, position, key=_by_seq)
            return self._buffer[start : start + limit]

    # tailing ------------------------------------------------------------------------------------
    async def start(self, on_records: Callable[[], None], interval_s: float = 0.25) -> None:
        """Read what the stream holds now, then keep tailing it in the background."""
        await asyncio.to_thread(self.pull)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(on_records, interval_s))

    def poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, on_records: Callable[[], None], interval_s: float) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                if await asyncio.to_thread(self.pull):
                    on_records()
                self._failing = False
            except Exception as exc:
                if not self._failing:  # once per outage, not four times a second
                    log.warning("reading stream %s failed: %s", self.stream_arn, exc)
                self._failing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):
                    await self._wake.wait()

    def pull(self) -> int:
        """Blocking: read every shard up to its end; the number of new records."""
        now = time.monotonic()
        if self._described_at is None or now - self._described_at > self._describe_every_s:
            self._describe()
            self._described_at = now
        fresh: list[streamlog.LogEntry] = []
        for shard in list(self._shards.values()):
            if not shard.closed:
                fresh += self._drain(shard)
        if any(s.closed and not s.retired for s in self._shards.values()):
            self._described_at = None  # a closed shard has children: look for them next time
            for shard in self._shards.values():
                shard.retired = shard.closed
        if fresh:
            with self._lock:
                for entry in fresh:
                    bisect.insort(self._buffer, entry, key=_by_seq)
                    self._latest = max(self._latest, entry.seq)
        return len(fresh)

    def _describe(self) -> None:
        start: str | None = None
        while True:
            args: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start is not None:
                args["ExclusiveStartShardId"] = start
            description = self.client.describe_stream(**args)["StreamDescription"]
            for shard in description.get("Shards") or []:
                shard_id = str(shard["ShardId"])
                if shard_id not in self._shards:
                    self._shards[shard_id] = _Shard(shard_id)
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _drain(self, shard: _Shard) -> list[streamlog.LogEntry]:
        out: list[streamlog.LogEntry] = []
        for _ in range(100):  # at most 100 pages per pull, so one busy shard cannot hog it
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
            try:
                page = self.client.get_records(ShardIterator=shard.iterator, Limit=1000)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                    shard.iterator = None
                    continue
                raise
            records = page.get("Records") or []
            for record in records:
                number = str(record["dynamodb"]["SequenceNumber"])
                entry = _stream_entry(record, self._now_ms, self._expired_by)
                if shard.last_seq is None or entry.seq > shard.last_seq:
                    out.append(entry)
                    shard.last_seq, shard.last_number = entry.seq, number
            shard.iterator = page.get("NextShardIterator")
            if shard.iterator is None:
                shard.closed = True
                break
            if not records:
                break
        return out

    def _iterator(self, shard: _Shard) -> str:
        args: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.last_number is None:
            args["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            args["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            args["SequenceNumber"] = shard.last_number
        return str(self.client.get_shard_iterator(**args)["ShardIterator"])


@dataclass(frozen=True, slots=True)
class _Reader:
    """One lane's view of a shared :class:`DynamoStreamSource`."""

    shared: DynamoStreamSource
    index: int

    def latest(self) -> int:
        return self.shared.latest()

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]:
        return self.shared.read_as(self.index, position, limit)


@dataclass(slots=True)
class _Shard:
    shard_id: str
    iterator: str | None = None
    last_seq: int | None = None
    last_number: str | None = None
    """The last sequence number read, exactly as the stream spelled it."""
    closed: bool = False
    retired: bool = False


def _by_seq(entry: streamlog.LogEntry) -> int:
    return entry.seq


def _stream_entry(
    record: dict[str, Any],
    now_ms: Callable[[], int],
    expired_by: Callable[[Mapping[str, Any]], Mapping[str, str] | None] = never_expired,
) -> streamlog.LogEntry:
    """A GetRecords record as a log entry; images stay in DynamoDB JSON, binary as base64."""
    body = record["dynamodb"]
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        created_ms = int(created.timestamp() * 1000)
    elif created is None:
        created_ms = now_ms()
    else:
        created_ms = int(float(created) * 1000)
    new_image = body.get("NewImage")
    old_image = body.get("OldImage")
    keys = _json_safe(body.get("Keys") or {})
    identity = record.get("userIdentity")
    if identity is None and record["eventName"] == "REMOVE":
        identity = expired_by(keys)
    return streamlog.LogEntry(
        seq=int(body["SequenceNumber"]),
        event_name=str(record["eventName"]),
        keys=keys,
        new_image=None if new_image is None else _json_safe(new_image),
        old_image=None if old_image is None else _json_safe(old_image),
        created_ms=created_ms,
        size_bytes=int(body.get("SizeBytes", 0)),
        user_identity=None if identity is None else dict(identity),
    )


def _json_safe(value: Any) -> Any:
    """botocore hands ``B``/``BS`` values over as bytes; a Lambda event carries them as base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_json_safe(v) for v in value]
    return value
