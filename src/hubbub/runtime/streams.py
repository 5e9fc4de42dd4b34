"""DynamoDB Streams -> Lambda event source mappings, with Lambda's retry semantics.

One poller per mapping reads its table's stream in order (one shard: order is kept for every key),
invokes the function with batches of DynamoDB Streams records and checkpoints only what succeeded:

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
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from hubbub import streamlog
from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.lambdas import FunctionPool, InvokeResult
from hubbub.runtime.metrics import Registry
from hubbub.runtime.state import RuntimeState
from hubbub.runtime.template import StreamMappingSpec, TableSpec

__all__ = ["SqliteStreamSource", "StreamPoller", "StreamSource"]

log = logging.getLogger("hubbub.streams")


class StreamSource(Protocol):
    def latest(self) -> int: ...

    def read_after(self, position: int, limit: int) -> list[streamlog.LogEntry]: ...


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
        """A record that claims to be a message but lacks its fields: no handler can decode it."""
        db = self._conn()
        if db is None:
            raise RuntimeError(f"no table file at {self._path} yet")
        db.execute("BEGIN IMMEDIATE")
        item = {"pk": "T#room/poison", "sk": "M#poison", "kind": "msg", "poison": True}
        streamlog.append(db, "INSERT", item, now_ms)
        db.execute("COMMIT")


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
        records = [self._record(e) for e in entries]
        self._last_created_ms = entries[0].created_ms
        result = await self.pool.invoke({"Records": records})
        if self._duplicate():
            await self.pool.invoke({"Records": records})
        self.batches += 1
        failed_seq = self._lowest_failure(result, entries)
        if failed_seq is None:
            self._advance(entries[-1].seq)
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
