"""DynamoDB Streams -> Lambda event source mappings: one poller per mapping, or per lane of a
mapping with a ``ParallelizationFactor`` (``dynamodb/lanes.py``).

A poller reads its stream (``dynamodb/sources.py``) in order, so order is kept for every key,
drops what the mapping's ``FilterCriteria`` do not match, invokes the function with batches of
DynamoDB Streams records and checkpoints only what succeeded. What follows a failure (retry,
bisect, give up) is decided by ``dynamodb/retry.py``; the poller carries it out. Records given up
go to the runtime's own ``dead_letters`` table (whole, for replay), and, when the mapping names
an on-failure destination, AWS's invocation record (``dynamodb/onfailure.py``: metadata, not the
records) goes to that SQS queue or SNS topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, assert_never

from hubbub import streamlog
from hubbub.runtime.awsids import sequence_number
from hubbub.runtime.cloudformation import StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.filters import matches_any
from hubbub.runtime.dynamodb.lanes import SOLE, Lane
from hubbub.runtime.dynamodb.onfailure import FailedInvocation, invocation_record
from hubbub.runtime.dynamodb.retry import (
    TOO_OLD,
    Advance,
    Attempts,
    Bisect,
    Decision,
    FunctionFailed,
    GiveUp,
    MalformedReport,
    Retry,
    expired,
    next_step,
    outcome_of,
)
from hubbub.runtime.dynamodb.sources import StreamSource
from hubbub.runtime.dynamodb.windows import OpenWindow, event_fields, start_of, state_of
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.runtime.metrics import Registry

__all__ = ["StreamPoller"]

log = logging.getLogger("hubbub.streams")

Sent = tuple[streamlog.LogEntry, dict[str, Any]]
"""A record of a batch: its log entry and the DynamoDB Streams record built from it."""


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
        send_on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        lane: Lane = SOLE,
    ) -> None:
        """``send_on_failure(arn, document)`` (blocking) delivers to the mapping's on-failure
        destination; without it only the local dead-letter table keeps what is given up.
        ``lane``: which of the mapping's ``ParallelizationFactor`` lanes this poller is
        (``dynamodb/lanes.py``); its checkpoint is named after it."""
        self.mapping = mapping
        self.lane = lane
        self.name = lane.name_for(mapping.name)
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
        self._attempts = Attempts()
        self.batches = 0
        self.dead_lettered = 0
        self.idle = asyncio.Event()
        self._stopping = False
        self.metrics: Registry | None = None
        self._last_created_ms: int | None = None
        self._send_on_failure = send_on_failure
        self._outbox: list[dict[str, Any]] = []
        self._invokes = 0
        self._last_result: InvokeResult | None = None
        self.destination_sent = 0

    def start(self) -> None:
        position = self.state.checkpoint(self.name)
        if position is None:
            position = (
                0 if self.mapping.starting_position == "TRIM_HORIZON" else self.source.latest()
            )
            self.state.save_checkpoint(self.name, position)
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
        while (self.state.checkpoint(self.name) or 0) < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not drain")
            self.poke()
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                progressed = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream mapping %s failed a step", self.name)
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
        try:
            return await self._handle_batch()
        finally:
            await self._flush_outbox()

    async def _flush_outbox(self) -> None:
        """Send the invocation records of what was given up to the on-failure destination. A
        send that fails is logged: the records stay in the local dead-letter table."""
        destination = self.mapping.on_failure
        outbox, self._outbox = self._outbox, []
        if destination is None or self._send_on_failure is None:
            return
        for document in outbox:
            try:
                await asyncio.to_thread(self._send_on_failure, destination, document)
                self.destination_sent += 1
            except Exception:
                log.exception("%s: cannot send to %s", self.name, destination)

    async def _handle_batch(self) -> bool:
        if not self.mapping.enabled or self._paused():
            return False
        read = await self._read()
        if not read:
            return bool(await self._end_window(self._held_window(), self._now_ms()))
        read_up_to = read[-1].seq
        entries = self._own(read)
        if not entries:
            return True
        entries = self._drop_expired(entries)
        if not entries:
            return True
        window: OpenWindow | None = None
        if self.mapping.tumbling_window_s:
            held = self._held_window()
            start = start_of(entries[0].created_ms, self.mapping.tumbling_window_s)
            ended = await self._end_window(held, start)
            if ended is not None:  # the open window was over: its final invocation first
                return ended
            window, in_window = self._windowed(held, start, entries)
            if len(in_window) < len(entries):  # the rest are the next window's
                read_up_to = in_window[-1].seq
            entries = in_window
        batch = self._matching(entries)
        if not batch:
            self._advance(read_up_to)
            return True
        result = await self._invoke(batch, window)
        sent = [entry.seq for entry, _ in batch]
        outcome = outcome_of(self.mapping, sent, result)
        if window is not None and result.ok:
            state = state_of(result.payload)
            if state is None:  # Lambda counts an answer without a state as a failure
                outcome = FunctionFailed("Runtime.MissingWindowState")
            else:
                self.state.save_window(self.name, window.start_ms, state)
        if isinstance(outcome, MalformedReport):
            log.warning("%s: malformed itemIdentifier %r", self.name, outcome.identifier)
        decision = next_step(self.mapping, sent, read_up_to, outcome, self._attempts)
        return self._perform(decision, {entry.seq: (entry, record) for entry, record in batch})

    async def _read(self) -> list[streamlog.LogEntry]:
        """The next batch after the checkpoint; a short one waits MaximumBatchingWindow first."""
        position = self.state.checkpoint(self.name) or 0
        entries = self.source.read_after(position, self._window)
        if entries and len(entries) < self._window and self.mapping.maximum_batching_window_s > 0:
            await asyncio.sleep(self.mapping.maximum_batching_window_s)
            entries = self.source.read_after(position, self._window)
        return entries

    def _own(self, read: list[streamlog.LogEntry]) -> list[streamlog.LogEntry]:
        """This lane's records of those read. Other lanes' records before its first are passed
        at once, without resetting a retry or a bisection: those are about its first record."""
        if self.lane.count == 1:
            return read
        first = next((i for i, e in enumerate(read) if self.lane.owns(e)), len(read))
        if first:
            self.state.save_checkpoint(self.name, read[first - 1].seq)
        return [e for e in read[first:] if self.lane.owns(e)]

    def _held_window(self) -> OpenWindow | None:
        """The open tumbling window, if the mapping has windows and one is open."""
        if not self.mapping.tumbling_window_s:
            return None
        held = self.state.window(self.name)
        return None if held is None else OpenWindow(*held)

    def _windowed(
        self, held: OpenWindow | None, start_ms: int, entries: list[streamlog.LogEntry]
    ) -> tuple[OpenWindow, list[streamlog.LogEntry]]:
        """The window the batch belongs to, with the state its last invocation returned (a record
        created before the open window's start, a clock's step back, joins the open window), and
        the batch's records: those of that window only."""
        if held is not None and held.start_ms >= start_ms:
            start_ms = held.start_ms
        state = held.state if held is not None and held.start_ms == start_ms else {}
        end_ms = start_ms + self.mapping.tumbling_window_s * 1000
        cut = next((i for i, e in enumerate(entries) if e.created_ms >= end_ms), len(entries))
        return OpenWindow(start_ms, state), entries[:cut]

    async def _end_window(self, held: OpenWindow | None, by_ms: int) -> bool | None:
        """The final invocation of the open tumbling window if it is over by ``by_ms`` (no
        records, ``isFinalInvokeForWindow``): True once it succeeded and the state is dropped,
        False when it failed (nothing after the window is processed until it succeeds), None
        when no window is over."""
        length_s = self.mapping.tumbling_window_s
        if held is None or held.start_ms + length_s * 1000 > by_ms:
            return None
        result = await self.pool.invoke(
            {"Records": [], **event_fields(held, length_s, self.stream_arn, final=True)}
        )
        if not result.ok:
            log.warning("%s: the final invocation of a window failed; retried", self.name)
            return False
        self.state.close_window(self.name)
        return True

    def _drop_expired(self, entries: list[streamlog.LogEntry]) -> list[streamlog.LogEntry]:
        now_ms = self._now_ms()  # the clock the writers used (the runtime's controllable clock)
        too_old = expired(self.mapping, [(e.seq, e.created_ms) for e in entries], now_ms)
        head = entries[: len(too_old)]
        for decision in too_old:
            self._perform(decision, {e.seq: (e, self._record(e)) for e in head})
        return entries[len(too_old) :]

    def _matching(self, entries: Sequence[streamlog.LogEntry]) -> list[Sent]:
        """The records to send: FilterCriteria skip (and so never send) what no filter matches."""
        batch = [(entry, self._record(entry)) for entry in entries]
        if not self.mapping.filters:
            return batch
        return [(e, r) for e, r in batch if matches_any(self.mapping.filters, r)]

    async def _invoke(self, batch: Sequence[Sent], window: OpenWindow | None) -> InvokeResult:
        self._last_created_ms = batch[0][0].created_ms
        event: dict[str, Any] = {"Records": [record for _, record in batch]}
        if window is not None:
            length_s = self.mapping.tumbling_window_s
            event.update(event_fields(window, length_s, self.stream_arn, final=False))
        result = await self.pool.invoke(event)
        self._invokes += 1
        self._last_result = result
        if self._duplicate():  # fault injection: Lambda's at-least-once delivery
            await self.pool.invoke(event)
        self.batches += 1
        return result

    def _perform(self, decision: Decision, sent: Mapping[int, Sent]) -> bool:
        """Carry out a decision; True when the poller should look again at once."""
        match decision:
            case Advance(to):
                self._advance(to)
                return True
            case Bisect(window, attempts):
                self._window = window
                self._attempts = attempts
                return True
            case Retry(attempts, settled):
                if settled is not None:
                    self._advance(settled)
                self._attempts = attempts
                return settled is not None
            case GiveUp(records, reason, to, settled):
                self._report(records, reason, sent)
                if settled is not None:
                    self._advance(settled)
                for seq in records:
                    self._dead_letter(*sent[seq], reason)
                self._advance(to)
                return True
            case _:
                assert_never(decision)

    def _advance(self, seq: int) -> None:
        self.state.save_checkpoint(self.name, seq)
        self._window = self.mapping.batch_size
        self._attempts = Attempts()
        self._invokes = 0

    def _report(self, records: Sequence[int], reason: str, sent: Mapping[int, Sent]) -> None:
        """Queue AWS's invocation record for the records given up, while the invocation that
        failed them is still the last one counted."""
        if self.mapping.on_failure is None:
            return
        last = self._last_result
        invocation = None
        if reason != TOO_OLD and last is not None:
            invocation = FailedInvocation(
                request_id=last.request_id,
                invoke_count=self._invokes,
                function_error=None if last.ok else "Unhandled",
            )
        self._outbox.append(
            invocation_record(
                records=[sent[seq][1] for seq in records],
                reason=reason,
                function_arn=self.pool.spec.arn,
                stream_arn=self.stream_arn,
                invocation=invocation,
                now_ms=self._now_ms(),
                request_id=str(uuid.uuid4()),
            )
        )

    def measure(self) -> None:
        """Publish this mapping's gauges (iterator age, as CloudWatch's IteratorAge)."""
        if self.metrics is None:
            return
        labels = {"mapping": self.mapping.name}
        if self.lane.count > 1:
            labels["lane"] = str(self.lane.index)
        age = 0
        if self._last_created_ms is not None and self.source.latest() > (
            self.state.checkpoint(self.name) or 0
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
            "%s: record %s to the on-failure destination (%s)", self.name, entry.seq, reason
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
        record: dict[str, Any] = {
            "eventID": uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stream_arn}/{entry.seq}").hex,
            "eventName": entry.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": body,
            "eventSourceARN": self.stream_arn,
        }
        if entry.user_identity is not None:  # a deletion by TTL
            record["userIdentity"] = dict(entry.user_identity)
        return record
