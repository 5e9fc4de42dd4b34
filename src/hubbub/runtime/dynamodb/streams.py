"""DynamoDB Streams -> Lambda event source mappings, with Lambda's retry semantics.

A stream comes from one of two sources: the ``stream_log`` a SQLite-backed store appends to
(:class:`SqliteStreamSource`), or a real table's stream read through the ``dynamodbstreams`` API
(:class:`DynamoStreamSource`). One poller per mapping reads its stream in order (order is kept for
every key), drops what the mapping's ``FilterCriteria`` do not match, invokes the function with
batches of DynamoDB Streams records and checkpoints only what succeeded:

* function error: the batch is retried; with ``BisectBatchOnFunctionError`` it is split in two
  first, until a failing record stands alone;
* ``batchItemFailures`` (with ``ReportBatchItemFailures``): the checkpoint moves to just before the
  lowest failed sequence number and the next batch starts there; a malformed identifier fails the
  whole batch, as on AWS;
* ``MaximumRetryAttempts`` exhausted, or a record older than ``MaximumRecordAgeInSeconds``: the
  record goes to the on-failure destination, locally the ``dead_letters`` table, and the stream
  moves on.
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
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hubbub import streamlog
from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.cloudformation import StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.filters import matches_any
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.runtime.metrics import Registry

__all__ = ["DynamoStreamSource", "SqliteStreamSource", "StreamPoller", "StreamSource"]

log = logging.getLogger("hubbub.streams")


class StreamSource(Protocol):
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
    """

    def __init__(
        self,
        client: Any,
        stream_arn: str,
        *,
        retention_s: float = 24 * 3600,
        describe_every_s: float = 30.0,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.client = client
        self.stream_arn = stream_arn
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

    # what the poller reads ----------------------------------------------------------------------
    def latest(self) -> int:
        with self._lock:
            return self._latest

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]:
        cutoff = self._now_ms() - self._retention_ms
        with self._lock:
            keep = 0
            while keep < len(self._buffer) and (
                self._buffer[keep].seq <= position or self._buffer[keep].created_ms < cutoff
            ):
                keep += 1
            del self._buffer[:keep]  # handled (the checkpoint never moves back) or trimmed
            return self._buffer[:limit]

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
                entry = _stream_entry(record, self._now_ms)
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


def _stream_entry(record: dict[str, Any], now_ms: Callable[[], int]) -> streamlog.LogEntry:
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
    return streamlog.LogEntry(
        seq=int(body["SequenceNumber"]),
        event_name=str(record["eventName"]),
        keys=_json_safe(body.get("Keys") or {}),
        new_image=None if new_image is None else _json_safe(new_image),
        old_image=None if old_image is None else _json_safe(old_image),
        created_ms=created_ms,
        size_bytes=int(body.get("SizeBytes", 0)),
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


class StreamPoller:
    def __init__(
        self,
        mapping: StreamMappingSpec,
        table: TableSpec,
        stream_arn: str,
        source: StreamSource,
        pool: FunctionPool,
        state: RuntimeState,
        *,
        region: str,
        poll_interval_s: float = 0.25,
        duplicate_batches: Callable[[], bool] = lambda: False,
        paused: Callable[[], bool] = lambda: False,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.mapping = mapping
        self.table = table
        self.stream_arn = stream_arn
        self.source = source
        self.pool = pool
        self.state = state
        self.region = region
        self.poll_interval_s = poll_interval_s
        self._duplicate = duplicate_batches
        self._paused = paused
        self._now_ms = now_ms
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._window = mapping.batch_size
        self._attempts = 0
        self._attempt_key: int | None = None
        self.batches = 0
        self.dead_lettered = 0
        self.idle = asyncio.Event()
        self._stopping = False
        self.metrics: Registry | None = None
        self._last_created_ms: int | None = None

    def start(self) -> None:
        position = self.state.checkpoint(self.mapping.name)
        if position is None:
            position = (
                0 if self.mapping.starting_position == "TRIM_HORIZON" else self.source.latest()
            )
            self.state.save_checkpoint(self.mapping.name, position)
        self._task = asyncio.create_task(self._run())

    def poke(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until everything written so far has been handed to the function."""
        deadline = time.monotonic() + timeout_s
        target = self.source.latest()
        while (self.state.checkpoint(self.mapping.name) or 0) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.mapping.name} did not drain")
            self.poke()
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                progressed = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream mapping %s failed a step", self.mapping.name)
                progressed = False
            if progressed:
                continue
            self.idle.set()
            self._wake.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self._wake.wait()
            self.idle.clear()

    async def _step(self) -> bool:
        """Handle one batch; True when the stream moved (so look again at once)."""
        if not self.mapping.enabled or self._paused():
            return False
        position = self.state.checkpoint(self.mapping.name) or 0
        entries = self.source.read_after(position, self._window)
        if not entries:
            return False
        if len(entries) < self._window and self.mapping.maximum_batching_window_s > 0:
            await asyncio.sleep(self.mapping.maximum_batching_window_s)
            entries = self.source.read_after(position, self._window)
        entries = self._drop_expired(entries)
        if not entries:
            return True
        read_up_to = entries[-1].seq
        records = [self._record(e) for e in entries]
        if self.mapping.filters:  # FilterCriteria: what no filter matches is skipped, not sent
            kept = [
                (e, r)
                for e, r in zip(entries, records, strict=True)
                if matches_any(self.mapping.filters, r)
            ]
            if not kept:
                self._advance(read_up_to)
                return True
            entries = [e for e, _ in kept]
            records = [r for _, r in kept]
        self._last_created_ms = entries[0].created_ms
        result = await self.pool.invoke({"Records": records})
        if self._duplicate():
            await self.pool.invoke({"Records": records})
        self.batches += 1
        failed_seq = self._lowest_failure(result, entries)
        if failed_seq is None:
            self._advance(read_up_to)
            return True
        if failed_seq == -1:
            return self._function_error(entries, records, result)
        return self._partial_failure(entries, records, failed_seq)

    def _lowest_failure(
        self, result: InvokeResult, entries: Sequence[streamlog.LogEntry]
    ) -> int | None:
        """None: all good; -1: the whole batch failed; else the lowest failed log position."""
        if not result.ok:
            return -1
        if not self.mapping.report_batch_item_failures:
            return None
        payload = result.payload
        if not isinstance(payload, dict):
            return None
        failures = payload.get("batchItemFailures")
        if not failures:
            return None
        by_number = {sequence_number(e.seq): e.seq for e in entries}
        lowest: int | None = None
        for failure in failures:
            ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if ident not in by_number:
                log.warning("%s: malformed itemIdentifier %r", self.mapping.name, ident)
                return -1
            seq = by_number[ident]
            lowest = seq if lowest is None else min(lowest, seq)
        return lowest

    def _function_error(
        self,
        entries: Sequence[streamlog.LogEntry],
        records: Sequence[dict[str, Any]],
        result: InvokeResult,
    ) -> bool:
        self._count_attempt(entries[0].seq)
        reason = f"function error: {result.error_type}"
        if self.mapping.bisect_on_error and len(entries) > 1:
            self._window = max(1, len(entries) // 2)
            return True
        if self._exhausted():
            for entry, record in zip(entries, records, strict=True):
                self._dead_letter(entry, record, reason)
            self._advance(entries[-1].seq)
            return True
        return False

    def _partial_failure(
        self,
        entries: Sequence[streamlog.LogEntry],
        records: Sequence[dict[str, Any]],
        failed_seq: int,
    ) -> bool:
        index = next(i for i, e in enumerate(entries) if e.seq == failed_seq)
        if index > 0:
            self._advance(entries[index - 1].seq)
        self._count_attempt(failed_seq)
        if self._exhausted():
            self._dead_letter(entries[index], records[index], "record failed: retries exhausted")
            self._advance(failed_seq)
            return True
        return index > 0

    def _count_attempt(self, key: int) -> None:
        if self._attempt_key != key:
            self._attempt_key = key
            self._attempts = 0
        self._attempts += 1

    def _exhausted(self) -> bool:
        limit = self.mapping.maximum_retry_attempts
        return limit != -1 and self._attempts > limit

    def _advance(self, seq: int) -> None:
        self.state.save_checkpoint(self.mapping.name, seq)
        self._window = self.mapping.batch_size
        self._attempt_key = None
        self._attempts = 0

    def _drop_expired(self, entries: list[streamlog.LogEntry]) -> list[streamlog.LogEntry]:
        max_age = self.mapping.maximum_record_age_s
        if max_age == -1:
            return entries
        now_ms = self._now_ms()  # the clock the writers used (the runtime's controllable clock)
        kept: list[streamlog.LogEntry] = []
        for entry in entries:
            if not kept and now_ms - entry.created_ms > max_age * 1000:
                self._dead_letter(entry, self._record(entry), "record older than maximum age")
                self._advance(entry.seq)
                continue
            kept.append(entry)
        return kept

    def measure(self) -> None:
        """Publish this mapping's gauges (iterator age, as CloudWatch's IteratorAge)."""
        if self.metrics is None:
            return
        labels = {"mapping": self.mapping.name}
        age = 0
        if self._last_created_ms is not None and self.source.latest() > (
            self.state.checkpoint(self.mapping.name) or 0
        ):
            age = max(0, time.time_ns() // 1_000_000 - self._last_created_ms)
        self.metrics.set(
            "stream_iterator_age_ms", age, labels, "Age of the oldest unhandled record"
        )
        self.metrics.set("stream_batches", self.batches, labels, "Batches handed to the function")
        self.metrics.set(
            "stream_dead_letters", self.dead_lettered, labels, "Records sent to the DLQ"
        )

    def _dead_letter(self, entry: streamlog.LogEntry, record: dict[str, Any], reason: str) -> None:
        self.dead_lettered += 1
        log.warning(
            "%s: record %s to the on-failure destination (%s)", self.mapping.name, entry.seq, reason
        )
        self.state.dead_letter(
            self.mapping.name, entry.seq, reason, record, time.time_ns() // 1_000_000
        )

    def _record(self, entry: streamlog.LogEntry) -> dict[str, Any]:
        view = self.table.stream_view_type or "NEW_IMAGE"
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": entry.created_ms // 1000,
            "Keys": entry.keys,
            "SequenceNumber": sequence_number(entry.seq),
            "SizeBytes": entry.size_bytes,
            "StreamViewType": view,
        }
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and entry.new_image is not None:
            body["NewImage"] = entry.new_image
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and entry.old_image is not None:
            body["OldImage"] = entry.old_image
        return {
            "eventID": uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stream_arn}/{entry.seq}").hex,
            "eventName": entry.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": body,
            "eventSourceARN": self.stream_arn,
        }
