"""The REST API: POST /orders queues an order, GET /orders/{orderId} and GET /report read back.

Lambda proxy integrations (payload format 1.0): the event carries the body as a string and the
path parameters in ``pathParameters``; the answer is ``{statusCode, headers, body}``.
"""

import json
import os
import time
import uuid
from decimal import Decimal

import boto3

_dynamodb = boto3.resource("dynamodb")
_sqs = boto3.client("sqs")

MAX_ITEMS = 25


def _answer(status, document):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(document, default=_plain),
    }


def _plain(value):
    """DynamoDB hands numbers back as Decimal, which json cannot write."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _items_of(body):
    """The order's lines, or the reason the request is refused."""
    try:
        order = json.loads(body or "")
    except json.JSONDecodeError:
        return None, "the body must be JSON"
    items = order.get("items") if isinstance(order, dict) else None
    if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
        return None, f"items must be a list of 1 to {MAX_ITEMS} lines"
    for line in items:
        if not (
            isinstance(line, dict)
            and isinstance(line.get("sku"), str)
            and line["sku"]
            and isinstance(line.get("quantity"), int)
            and line["quantity"] > 0
        ):
            return None, "each line needs a sku and a positive whole quantity"
    return [{"sku": line["sku"], "quantity": line["quantity"]} for line in items], None


def submit_order(event, context):
    items, problem = _items_of(event.get("body"))
    if problem:
        return _answer(400, {"message": problem})
    order_id = uuid.uuid4().hex
    _dynamodb.Table(os.environ["ORDERS_TABLE"]).put_item(
        Item={
            "id": order_id,
            "status": "queued",
            "items": items,
            "attempts": 0,
            "createdAt": int(time.time()),
        }
    )
    _sqs.send_message(
        QueueUrl=os.environ["ORDER_QUEUE_URL"],
        MessageBody=json.dumps({"orderId": order_id, "items": items}),
    )
    return _answer(202, {"orderId": order_id, "status": "queued"})


def get_order(event, context):
    order_id = (event.get("pathParameters") or {}).get("orderId", "")
    found = _dynamodb.Table(os.environ["ORDERS_TABLE"]).get_item(Key={"id": order_id})
    if "Item" not in found:
        return _answer(404, {"message": f"no order {order_id}"})
    order = found["Item"]
    order["orderId"] = order.pop("id")
    return _answer(200, order)


def get_report(event, context):
    found = _dynamodb.Table(os.environ["REPORTS_TABLE"]).get_item(Key={"id": "latest"})
    if "Item" not in found:
        return _answer(404, {"message": "no report yet"})
    report = found["Item"]
    del report["id"]
    return _answer(200, report)
