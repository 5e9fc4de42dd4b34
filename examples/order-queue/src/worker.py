"""Prices the orders the queue delivers, in batches.

An order naming a product the catalogue lacks is reported in ``batchItemFailures``: SQS keeps
only that message, makes it visible again after the queue's visibility timeout, and after
``maxReceiveCount`` receives moves it to the dead-letter queue. The rest of the batch is deleted.
"""

import json
import logging
import os
import time

import boto3

_dynamodb = boto3.resource("dynamodb")
_log = logging.getLogger(__name__)
_log.setLevel(logging.INFO)

# cents per unit; a real shop would read its catalogue from a table or a service
PRICES = {"tea": 450, "mug": 1200, "beans": 1650, "filter": 300}


class UnknownProduct(Exception):
    pass


def _total(items):
    missing = sorted({line["sku"] for line in items} - set(PRICES))
    if missing:
        raise UnknownProduct(f"not in the catalogue: {', '.join(missing)}")
    return sum(PRICES[line["sku"]] * line["quantity"] for line in items)


def _fulfil(table, record):
    order = json.loads(record["body"])
    attempt = int(record["attributes"]["ApproximateReceiveCount"])
    try:
        total = _total(order["items"])
    except UnknownProduct as problem:
        table.update_item(
            Key={"id": order["orderId"]},
            UpdateExpression="SET #s = :s, attempts = :a, lastError = :e",
            ConditionExpression="#s <> :done",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": "retrying",
                ":a": attempt,
                ":e": str(problem),
                ":done": "done",
            },
        )
        raise
    table.update_item(
        Key={"id": order["orderId"]},
        UpdateExpression="SET #s = :s, attempts = :a, totalCents = :t, doneAt = :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": "done",
            ":a": attempt,
            ":t": total,
            ":d": int(time.time()),
        },
    )


def handler(event, context):
    table = _dynamodb.Table(os.environ["ORDERS_TABLE"])
    failures = []
    for record in event["Records"]:
        try:
            _fulfil(table, record)
        except Exception as problem:  # one bad order must not fail its batch
            _log.warning("order message %s failed: %r", record["messageId"], problem)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
