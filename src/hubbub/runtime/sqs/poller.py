"""SQS -> Lambda event source mappings, and the SNS -> Lambda subscriptions carried by a queue.

One receive loop per mapping polls its queue (ReceiveMessage with no wait, so stopping never
waits on a long poll, and woken early whenever a function finishes), gathers a batch by
``sqs/decisions.py``'s rule and hands it to one of up to ``concurrency`` concurrent invocations,
as Lambda scales its pollers. What happens to each message afterwards is ``settle``'s decision;
the queue itself (moto) keeps each received message invisible for the queue's
``VisibilityTimeout`` and moves it to the RedrivePolicy's dead-letter queue past
``maxReceiveCount``, exactly as SQS does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.lambda_.pool import FunctionPool
from hubbub.runtime.sqs.decisions import keep_gathering, passes_filters, settle
from hubbub.runtime.sqs.events import sns_record, sqs_record

__all__ = ["Consumer", "QueuePoller"]

log = logging.getLogger("hubbub.sqs")

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Consumer:
    """What a poller reads and how it builds events: an SQS event source mapping, or (with
    ``subscription_arn``) a topic's subscription of a function, one notification per event."""

    name: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    window_s: float = 0.0
    report_failures: bool = False
    filters: tuple[dict[str, Any], ...] = ()
    concurrency: int = 1
    enabled: bool = True
    subscription_arn: str | None = None
    sns_attempts: int = 3
    """An SNS notification whose function keeps failing is given up after this many tries
    (SNS invokes Lambda asynchronously: the first try and two retries)."""


class QueuePoller:
    def __init__(
        self,
        consumer: Consumer,
        client: Any,
        pool: FunctionPool,
        *,
        region: str,
        poll_interval_s: float = 0.25,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.consumer = consumer
        self.client = client
        self.pool = pool
        self.region = region
        self.poll_interval_s = poll_interval_s
        self._paused = paused
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, consumer.concurrency))
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.deleted = 0
        self.filtered = 0
        self.failed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def poke(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            # a free invocation slot first: a received message's visibility timeout is running
            await self._slots.acquire()
            try:
                batch = await self._gather()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:
                log.exception("%s: cannot receive", self.consumer.name)
                batch = []
            if batch:
                task = asyncio.create_task(self._handle(batch))
                self._inflight.add(task)
                task.add_done_callback(self._done)
                continue
            self._slots.release()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self._wake.wait()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a batch failed", self.consumer.name, exc_info=task.exception())

    async def _receive(self, limit: int) -> list[Message]:
        answer = await asyncio.to_thread(
            self.client.receive_message,
            QueueUrl=self.consumer.queue_url,
            MaxNumberOfMessages=max(1, min(10, limit)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages: list[Message] = answer.get("Messages") or []
        return messages

    async def _gather(self) -> list[Message]:
        """A batch: one receive, then more while the batching window allows."""
        consumer = self.consumer
        if not consumer.enabled or self._paused():
            return []
        batch = await self._receive(consumer.batch_size)
        started = time.monotonic()
        while keep_gathering(
            len(batch), consumer.batch_size, time.monotonic() - started, consumer.window_s
        ):
            more = await self._receive(consumer.batch_size - len(batch))
            batch += more
            if not more:
                left = consumer.window_s - (time.monotonic() - started)
                await asyncio.sleep(max(0.0, min(self.poll_interval_s, left)))
        return batch

    async def _handle(self, batch: Sequence[Message]) -> None:
        if self.consumer.subscription_arn is not None:
            for message in batch:
                await self._notify(message, self.consumer.subscription_arn)
            return
        records = [sqs_record(m, self.consumer.queue_arn, self.region) for m in batch]
        receipts = {r["messageId"]: r["receiptHandle"] for r in records}
        wanted = [r for r in records if passes_filters(self.consumer.filters, r)]
        kept = {r["messageId"] for r in wanted}
        dropped = [r["messageId"] for r in records if r["messageId"] not in kept]
        if dropped:  # a message no filter matches is deleted unseen, as Lambda does
            self.filtered += len(dropped)
            await self._delete([receipts[m] for m in dropped])
        if not wanted:
            return
        self.batches += 1
        result = await self.pool.invoke({"Records": wanted})
        outcome = settle(self.consumer.report_failures, [r["messageId"] for r in wanted], result)
        if outcome.malformed:
            log.warning("%s: %s: the whole batch failed", self.consumer.name, outcome.malformed)
        if outcome.keep:
            self.failed += len(outcome.keep)
        await self._delete([receipts[m] for m in outcome.delete])

    async def _notify(self, message: Message, subscription_arn: str) -> None:
        """One SNS notification, one invocation; deleted when the function took it or after
        its last try."""
        try:
            record = sns_record(message.get("Body", ""), subscription_arn)
        except ValueError:
            log.warning("%s: not an SNS notification: dropped", self.consumer.name)
            await self._delete([message["ReceiptHandle"]])
            return
        self.batches += 1
        result = await self.pool.invoke({"Records": [record]})
        tries = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
        if result.ok or tries >= self.consumer.sns_attempts:
            if not result.ok:
                self.failed += 1
                log.warning(
                    "%s: notification %s failed %d times: dropped",
                    self.consumer.name,
                    record["Sns"]["MessageId"],
                    tries,
                )
            await self._delete([message["ReceiptHandle"]])

    async def _delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
            answer = await asyncio.to_thread(
                self.client.delete_message_batch, QueueUrl=self.consumer.queue_url, Entries=entries
            )
            self.deleted += len(answer.get("Successful") or [])
            for failure in answer.get("Failed") or []:
                log.warning("%s: delete failed: %s", self.consumer.name, failure)
