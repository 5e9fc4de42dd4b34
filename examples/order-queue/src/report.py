"""Runs every hour (an EventBridge rule): settles the dead-lettered orders, then writes a report.

An order on the dead-letter queue has used up its attempts. It is marked ``failed`` (so a client
polling GET /orders/{orderId} stops waiting) before its message is deleted, so a crash in between
leaves the message for the next run. Then the orders are counted by status into the Reports
table, where GET /report reads them.
"""

import json
import os
import time
from collections import Counter

import boto3

_dynamodb = boto3.resource("dynamodb")
_sqs = boto3.client("sqs")


def _settle_dead_letters(orders):
    queue_url = os.environ["DEAD_LETTER_QUEUE_URL"]
    settled = 0
    while True:
        received = _sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["ApproximateReceiveCount"],
            WaitTimeSeconds=0,
        )
        messages = received.get("Messages", [])
        if not messages:
            return settled
        for message in messages:
            order_id = json.loads(message["Body"])["orderId"]
            orders.update_item(
                Key={"id": order_id},
                UpdateExpression="SET #s = :s, failedAt = :f",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": "failed", ":f": int(time.time())},
            )
            _sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            settled += 1


def _count_by_status(orders):
    counts = Counter()
    scan = {"ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "status"}}
    while True:
        page = orders.scan(**scan)
        counts.update(item["status"] for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return dict(counts)
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def handler(event, context):
    orders = _dynamodb.Table(os.environ["ORDERS_TABLE"])
    settled = _settle_dead_letters(orders)
    report = {
        "id": "latest",
        "generatedAt": event.get("time", ""),
        "settledDeadLetters": settled,
        "orders": _count_by_status(orders),
    }
    _dynamodb.Table(os.environ["REPORTS_TABLE"]).put_item(Item=report)
    return {"settledDeadLetters": settled, "orders": report["orders"]}
