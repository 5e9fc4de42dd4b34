"""The runtime's SQS queues, SNS topics and their event sources, through a real ``hubbub serve``
of the queue probe app (``apps/queueprobe``), driven with boto3 from the host.

AWS pages each behaviour is checked against:

- *Using Lambda with Amazon SQS* (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
  the event shape, batching, deleting on success, messages returning after the visibility
  timeout and moving to the dead-letter queue after ``maxReceiveCount``;
- *Handling errors for an SQS event source in Lambda*
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): with
  ``ReportBatchItemFailures`` only the reported messages become visible again;
- *Lambda event filtering* (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html):
  a message no filter matches is deleted without invoking the function;
- *Retain discarded records for a DynamoDB event source in Lambda*
  (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html): the on-failure
  destination gets an invocation record with ``DDBStreamBatchInfo``, not the records;
- *Invoking Lambda functions with Amazon SNS notifications*
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html): the SNS event shape.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    SnsModel,
    SqsModel,
)

from tests.support.server import ServerProcess
from tests.support.waiting import eventually

PROBE = Path(__file__).parent / "apps" / "queueprobe" / "template.yaml"
WAIT_S = 30.0


@dataclass
class Probe:
    server: ServerProcess
    info: dict[str, Any]
    sqs: Any
    sns: Any
    dynamodb: Any
    seen: list[dict[str, Any]] = field(default_factory=list)

    def url(self, queue: str) -> str:
        return str(self.info["queues"][queue])

    def drain_seen(self) -> list[dict[str, Any]]:
        """What the functions reported so far (SeenQueue, emptied as it is read)."""
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.url("SeenQueue"), MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = answer.get("Messages") or []
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.url("SeenQueue"), ReceiptHandle=message["ReceiptHandle"]
                )

    def events(self, source: str) -> list[dict[str, Any]]:
        return [s["event"] for s in self.drain_seen() if s["source"] == source]

    def receive_all(self, queue: str) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.url(queue),
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return list(answer.get("Messages") or [])


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    server = ServerProcess(tmp_path_factory.mktemp("queueprobe") / "data", template=PROBE)
    server.start()
    try:
        info = server.admin("info")
        session = boto3.session.Session(
            region_name="us-east-1",
            aws_access_key_id="AKIALOCALTEST",
            aws_secret_access_key="local",
        )
        yield Probe(
            server,
            info,
            session.client("sqs", endpoint_url=info["sqsEndpoint"]),
            session.client("sns", endpoint_url=info["snsEndpoint"]),
            session.client("dynamodb", endpoint_url=info["dynamodbEndpoint"]),
        )
    finally:
        server.stop()


async def test_the_endpoint_is_announced_and_queue_urls_keep_their_aws_shape(probe: Probe) -> None:
    """The host learns the SQS/SNS endpoint from ``/_runtime/info``; functions reach the same
    queues with the AWS-shaped URL ``!Ref`` gives (their SEEN_QUEUE_URL), which boto3 sends to
    AWS_ENDPOINT_URL_SQS: every other test depends on the functions' reports arriving."""
    assert probe.info["sqsEndpoint"].startswith("http://127.0.0.1:")
    assert set(probe.info["queues"]) >= {"WorkQueue", "WorkDeadLetters", "SeenQueue"}
    assert probe.info["topics"]["Announcements"].startswith("arn:aws:sns:us-east-1:")
    aws_url = "https://sqs.us-east-1.amazonaws.com/123456789012/local-SeenQueue"
    probe.sqs.send_message(QueueUrl=aws_url, MessageBody=json.dumps({"source": "host"}))
    await eventually(
        lambda: any(s.get("source") == "host" for s in probe.drain_seen()), timeout=WAIT_S
    )


async def test_sqs_batches_partial_failures_filters_and_redrive(probe: Probe) -> None:
    """Five messages: three jobs that succeed, one job the function reports failed, one that
    the filter drops. The good ones are delivered once and deleted; the dropped one is deleted
    unseen; the failed one comes back after the 5 s visibility timeout (receive count 2), fails
    again and moves to the dead-letter queue at maxReceiveCount 2."""
    bodies = [
        {"kind": "job", "id": 1},
        {"kind": "job", "id": 2, "fail": True},
        {"kind": "job", "id": 3},
        {"kind": "other", "id": 4},
        {"kind": "job", "id": 5},
    ]
    probe.sqs.send_message_batch(
        QueueUrl=probe.url("WorkQueue"),
        Entries=[
            {
                "Id": str(b["id"]),
                "MessageBody": json.dumps(b),
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": str(b["id"])}},
            }
            for b in bodies
        ],
    )

    def in_dead_letters() -> list[dict[str, Any]]:
        return probe.receive_all("WorkDeadLetters")

    dead = await eventually(in_dead_letters, timeout=WAIT_S)
    assert [json.loads(m["Body"])["id"] for m in dead] == [2]

    records: list[dict[str, Any]] = []
    for event in probe.events("sqs"):
        SqsModel.model_validate(event)
        records += event["Records"]
    by_id: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        by_id.setdefault(json.loads(record["body"])["id"], []).append(record)
    assert sorted(by_id) == [1, 2, 3, 5]  # 4 was filtered out, never delivered
    deliveries = {i: [r["attributes"]["ApproximateReceiveCount"] for r in by_id[i]] for i in by_id}
    assert all(len(by_id[i]) == 1 for i in (1, 3, 5)), deliveries  # delivered once, then deleted
    counts = [int(r["attributes"]["ApproximateReceiveCount"]) for r in by_id[2]]
    assert counts == [1, 2]  # only the failed one became visible again
    first = by_id[1][0]
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"].endswith(":local-WorkQueue")
    assert first["messageAttributes"]["n"]["stringValue"] == "1"
    attributes = probe.sqs.get_queue_attributes(
        QueueUrl=probe.url("WorkQueue"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


async def test_a_failing_stream_record_sends_its_metadata_to_the_on_failure_queue(
    probe: Probe,
) -> None:
    """Bisect isolates the poison item; after 1 + MaximumRetryAttempts tries alone it is given
    up: StreamFailures gets AWS's invocation record (DDBStreamBatchInfo of that one record),
    the runtime's dead-letter table keeps the record itself, and the others were delivered."""
    table = probe.info["tables"]["Items"]
    for key in ("a", "b", "c"):
        item = {"id": {"S": key}}
        if key == "b":
            item["poison"] = {"BOOL": True}
        probe.dynamodb.put_item(TableName=table, Item=item)

    def failure_records() -> list[dict[str, Any]]:
        return probe.receive_all("StreamFailures")

    (message,) = await eventually(failure_records, timeout=WAIT_S)
    document = json.loads(message["Body"])
    info = document["DDBStreamBatchInfo"]
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["functionArn"].endswith(":function:local-StreamFunction")
    assert document["responseContext"]["functionError"] == "Unhandled"
    assert document["version"] == "1.0"
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].startswith("arn:aws:dynamodb:us-east-1:")
    assert "Records" not in document

    events = probe.events("stream")
    for event in events:
        DynamoDBStreamModel.model_validate(event)
    poison = [
        r for e in events for r in e["Records"] if "poison" in r["dynamodb"].get("NewImage", {})
    ]
    assert {r["dynamodb"]["SequenceNumber"] for r in poison} == {info["startSequenceNumber"]}
    alone = [e for e in events if len(e["Records"]) == 1 and e["Records"][0] in poison]
    assert len(alone) == 2  # 1 + MaximumRetryAttempts tries once alone; splitting was free
    letters = probe.server.admin("dead-letters")
    assert [letter["record"]["dynamodb"]["SequenceNumber"] for letter in letters] == [
        info["startSequenceNumber"]
    ]


async def test_a_parallelization_factor_reads_the_stream_in_lanes_in_order_per_key(
    probe: Probe,
) -> None:
    """``ParallelizationFactor: 3``: three batches of the shard in the function at once, every
    record once, and each item's changes in the order they were made (*Using AWS Lambda with
    Amazon DynamoDB*, "Concurrent reads of a shard": order is kept at the item level)."""
    table = probe.info["tables"]["Items"]
    keys = [f"lane-{i}" for i in range(9)]
    for n in range(3):
        for key in keys:
            probe.dynamodb.put_item(TableName=table, Item={"id": {"S": key}, "n": {"N": str(n)}})

    def mine(batch: dict[str, Any]) -> list[tuple[str, int]]:
        return [
            (r["dynamodb"]["NewImage"]["id"]["S"], int(r["dynamodb"]["NewImage"]["n"]["N"]))
            for r in batch["event"]["Records"]
            if r["dynamodb"]["NewImage"]["id"]["S"].startswith("lane-")
        ]

    def all_seen() -> list[dict[str, Any]] | None:
        batches = probe.events("parallel")
        return batches if sum(len(mine(b)) for b in batches) >= 27 else None

    batches = await eventually(all_seen, timeout=WAIT_S)
    batches.sort(key=lambda b: b["started"])
    seen = [change for b in batches for change in mine(b)]
    assert sorted(seen) == sorted((key, n) for key in keys for n in range(3)), "each once"
    for key in keys:
        assert [n for k, n in seen if k == key] == [0, 1, 2], f"{key} in order"
    assert any(
        a["started"] < b["ended"] and b["started"] < a["ended"]
        for i, a in enumerate(batches)
        for b in batches[i + 1 :]
    ), "some batches ran at the same time"
    streams = probe.server.admin("stats")["streams"]
    lanes = sorted(name for name in streams if name.startswith("ParallelFunction."))
    assert lanes == [f"ParallelFunction.Changes#{i}" for i in range(3)]
    assert all(streams[name]["batches"] >= 1 for name in lanes), "every lane had keys"


async def test_tumbling_windows_carry_state_and_end_with_a_final_invocation(
    probe: Probe,
) -> None:
    """``TumblingWindowInSeconds: 1``: the function counts items in its window's state, and
    once each window is over it gets the final state (*Implementing stateful DynamoDB stream
    processing in Lambda*); together the windows' final states count every item once."""
    table = probe.info["tables"]["Items"]
    for i in range(6):
        probe.dynamodb.put_item(TableName=table, Item={"id": {"S": f"win-{i}"}})

    def counted() -> list[dict[str, Any]] | None:
        finals = [s["event"] for s in probe.drain_seen() if s["source"] == "window"]
        return finals if sum(f["state"].get("count", 0) for f in finals) >= 6 else None

    finals = await eventually(counted, timeout=WAIT_S)
    assert sum(f["state"].get("count", 0) for f in finals) == 6
    for final in finals:
        start = datetime.datetime.fromisoformat(final["window"]["start"])
        end = datetime.datetime.fromisoformat(final["window"]["end"])
        assert end - start == datetime.timedelta(seconds=1)
        assert final["shardId"].startswith("shardId-")
    starts = [f["window"]["start"] for f in finals]
    assert len(starts) == len(set(starts)), "one final invocation per window"


async def test_a_topic_delivers_to_its_queue_and_its_function(probe: Probe) -> None:
    """A publish reaches the SQS subscription (the notification envelope) and the function
    subscribed by a SAM SNS event (an SNS event)."""
    topic = probe.info["topics"]["Announcements"]
    probe.sns.publish(TopicArn=topic, Message="hello", Subject="greeting")

    (copy,) = await eventually(lambda: probe.receive_all("TopicCopies"), timeout=WAIT_S)
    assert json.loads(copy["Body"])["Message"] == "hello"

    events = await eventually(lambda: probe.events("sns"), timeout=WAIT_S)
    (event,) = events
    SnsModel.model_validate(event)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == "hello"
    assert record["Sns"]["TopicArn"] == topic
    assert record["EventSubscriptionArn"].startswith(topic + ":")


async def test_expired_items_go_as_dynamodbs_own_removes(probe: Probe) -> None:
    """The table's TTL: the runtime's sweep (here asked for at once) deletes what has expired
    by the runtime's clock, and the stream function gets each deletion as a REMOVE with
    DynamoDB's service ``userIdentity``; moving the clock on expires the rest."""
    table = probe.info["tables"]["Items"]
    now_s = int(time.time())
    probe.dynamodb.put_item(
        TableName=table, Item={"id": {"S": "ttl-past"}, "expires": {"N": str(now_s - 10)}}
    )
    probe.dynamodb.put_item(
        TableName=table, Item={"id": {"S": "ttl-later"}, "expires": {"N": str(now_s + 3600)}}
    )
    assert probe.server.admin("ttl/sweep", {}) == {"deleted": 1}

    def removes() -> dict[str, Any]:
        return {
            r["dynamodb"]["Keys"]["id"]["S"]: r.get("userIdentity")
            for event in probe.events("stream")
            for r in event["Records"]
            if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"]["id"]["S"].startswith("ttl-")
        }

    service = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert await eventually(lambda: removes() or None, timeout=WAIT_S) == {"ttl-past": service}
    probe.server.admin("clock", {"offsetMs": 2 * 3600 * 1000})
    try:
        assert probe.server.admin("ttl/sweep", {}) == {"deleted": 1}
    finally:
        probe.server.admin("clock", {"offsetMs": 0})
    await eventually(lambda: "ttl-later" in removes() or None, timeout=WAIT_S)
    assert removes() == {"ttl-past": service, "ttl-later": service}
