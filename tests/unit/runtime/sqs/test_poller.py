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
from hubbub.runtime.sqs.motofifo import fifo_in_order
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


async def test_a_fifo_group_with_a_failed_message_waits_while_other_groups_go_on() -> None:
    """FIFO queues (moto's SQS): a message of a group that the function reported failed stays
    in flight, and with it the rest of its group, until the visibility timeout; the other
    group's messages are delivered meanwhile, and the failed group comes back in its order.
    *Using Lambda with Amazon SQS* (FIFO: "Lambda ... processes messages in order within each
    message group"), and *Handling errors for an SQS event source in Lambda* (a failed
    message's group is not processed further until it succeeds). Without ``fifo_in_order``,
    moto hands the group back second message first."""
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    with mock_aws(), fifo_in_order():
        import boto3

        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(
            QueueName="work.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"}
        )["QueueUrl"]
        for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")):
            client.send_message(
                QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
            )
        failing = {"a1"}

        def answer(event: dict[str, Any]) -> InvokeResult:
            failed: list[dict[str, str]] = []
            stopped: set[str] = set()
            for record in event["Records"]:  # what a FIFO processor does: a failed group stops
                group = record["attributes"]["MessageGroupId"]
                if record["body"] in failing or group in stopped:
                    stopped.add(group)
                    failed.append({"itemIdentifier": record["messageId"]})
            return ok({"batchItemFailures": failed})

        pool = FakePool(answer)
        consumer = Consumer(name="Fn.Work", queue_url=url, queue_arn=ARN, report_failures=True)
        p = QueuePoller(consumer, client, cast(FunctionPool, pool), region="us-east-1")

        await step(p)
        first = [r["body"] for r in pool.events[0]["Records"]]
        assert first == ["a1", "a2", "b1", "b2"]  # each group in its order
        await step(p)  # group a is in flight (60 s): nothing of it comes back yet
        assert len(pool.events) == 1
        failing.clear()
        # their 60 s pass: what time does to a received message in moto (its visible_at), with
        # nothing else touched, as SQS's own clock would
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["work.fifo"]
        for message in queue._messages:
            message.visible_at = 0.0
        await step(p)
        assert [r["body"] for r in pool.events[-1]["Records"]] == ["a1", "a2"]
        assert [r["attributes"]["MessageGroupId"] for r in pool.events[-1]["Records"]] == [
            "a",
            "a",
        ]
