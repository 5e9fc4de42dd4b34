"""The SQS poller (``sqs.poller.QueuePoller``) carries out ``sqs.decisions`` against a queue:
stepped over an in-memory SQS client and a fake function.

AWS: *Using Lambda with Amazon SQS* (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html),
*Handling errors for an SQS event source in Lambda*
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), and for SNS's
retries of a failed asynchronous invocation *Invoking Lambda functions with Amazon SNS
notifications* (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult
from hubbub.runtime.sqs.poller import Consumer, QueuePoller

ARN = "arn:aws:sqs:us-east-1:123456789012:work"


@dataclass
class FakeSqs:
    """Received messages stay 'in flight' until deleted; ``redeliver`` makes them visible."""

    visible: list[dict[str, Any]] = field(default_factory=list)
    inflight: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)

    def send(self, body: str) -> None:
        message = {
            "MessageId": str(uuid.uuid4()),
            "Body": body,
            "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "0", "SentTimestamp": "1", "SenderId": "s"},
        }
        self.visible.append(message)

    def redeliver(self) -> None:
        self.visible += self.inflight.values()
        self.inflight.clear()

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        taken = self.visible[: kwargs["MaxNumberOfMessages"]]
        del self.visible[: len(taken)]
        out = []
        for message in taken:
            count = int(message["Attributes"]["ApproximateReceiveCount"]) + 1
            message["Attributes"]["ApproximateReceiveCount"] = str(count)
            handle = uuid.uuid4().hex
            self.inflight[handle] = message
            out.append({**message, "ReceiptHandle": handle})
        return {"Messages": out}

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        for entry in kwargs["Entries"]:
            self.deleted.append(self.inflight.pop(entry["ReceiptHandle"])["Body"])
        return {"Successful": kwargs["Entries"]}


@dataclass
class FakePool:
    answer: Callable[[dict[str, Any]], InvokeResult]
    events: list[dict[str, Any]] = field(default_factory=list)

    async def invoke(self, event: dict[str, Any]) -> InvokeResult:
        self.events.append(event)
        return self.answer(event)


def ok(payload: Any = None) -> InvokeResult:
    return InvokeResult("rid", True, payload, 1.0)


def poller(sqs: FakeSqs, pool: FakePool, **settings: Any) -> QueuePoller:
    consumer = Consumer(name="Fn.Jobs", queue_url="local", queue_arn=ARN, **settings)
    return QueuePoller(consumer, sqs, cast(FunctionPool, pool), region="us-east-1")


async def step(p: QueuePoller) -> None:
    batch = await p._gather()
    if batch:
        await p._handle(batch)


async def test_filtered_messages_are_deleted_without_an_invocation() -> None:
    sqs = FakeSqs()
    sqs.send(json.dumps({"kind": "job"}))
    sqs.send(json.dumps({"kind": "other"}))
    pool = FakePool(lambda event: ok())
    await step(poller(sqs, pool, filters=({"body": {"kind": ["job"]}},)))
    assert [json.loads(r["body"])["kind"] for e in pool.events for r in e["Records"]] == ["job"]
    assert sorted(sqs.deleted) == sorted(
        [json.dumps({"kind": "job"}), json.dumps({"kind": "other"})]
    )


async def test_only_reported_failures_stay_and_come_back() -> None:
    sqs = FakeSqs()
    for body in ("a", "b", "c"):
        sqs.send(body)

    def fail_b(event: dict[str, Any]) -> InvokeResult:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "b"]
        return ok({"batchItemFailures": failed})

    pool = FakePool(fail_b)
    p = poller(sqs, pool, report_failures=True)
    await step(p)
    assert sqs.deleted == ["a", "c"]
    sqs.redeliver()  # the visibility timeout expires
    await step(p)
    (again,) = pool.events[1]["Records"]
    assert (again["body"], again["attributes"]["ApproximateReceiveCount"]) == ("b", "2")


async def test_a_function_error_deletes_nothing() -> None:
    sqs = FakeSqs()
    sqs.send("a")
    pool = FakePool(lambda event: InvokeResult("rid", False, {"errorType": "Boom"}, 1.0))
    await step(poller(sqs, pool, report_failures=True))
    assert sqs.deleted == []
    assert len(sqs.inflight) == 1


async def test_a_failing_sns_notification_is_retried_then_dropped() -> None:
    sqs = FakeSqs()
    sqs.send(json.dumps({"Type": "Notification", "MessageId": "n1", "Message": "hi"}))
    pool = FakePool(lambda event: InvokeResult("rid", False, {"errorType": "Boom"}, 1.0))
    p = poller(
        sqs, pool, batch_size=1, subscription_arn="arn:aws:sns:us-east-1:1:t:s", sns_attempts=3
    )
    for _ in range(3):
        await step(p)
        sqs.redeliver()
    assert len(pool.events) == 3
    assert pool.events[0]["Records"][0]["Sns"]["Message"] == "hi"
    assert len(sqs.deleted) == 1
    assert sqs.visible == []
