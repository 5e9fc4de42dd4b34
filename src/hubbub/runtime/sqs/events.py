"""The events Lambda builds from queue messages: SQS records (an SQS event source) and SNS
records (a topic's ``lambda`` subscription), from what SQS's ReceiveMessage returns.

SQS spells message fields in PascalCase (``MessageId``, ``StringValue``); the SQS event record
spells them in camelCase (``messageId``, ``stringValue``), keeps binary values base64-encoded
and adds the source (``eventSource``, ``eventSourceARN``, ``awsRegion``). An SNS notification
delivered to a queue spells ``SigningCertURL``; the SNS event record ``SigningCertUrl``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["SQS_ATTRIBUTES", "sns_record", "sqs_record"]

SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
"""The system attributes an SQS record carries (the last ones only when SQS has them)."""


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else str(value).encode()
    return base64.b64encode(raw).decode("ascii")


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [_b64(v) for v in value.get("BinaryListValues") or []],
        "dataType": str(value.get("DataType", "String")),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = _b64(value["BinaryValue"])
    return out


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS event record for one received message."""
    attributes = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: str(attributes[k]) for k in SQS_ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sns_record(body: str, subscription_arn: str) -> dict[str, Any]:
    """An SNS event record for one notification, as SNS delivered it to a queue (not raw)."""
    note = json.loads(body)
    return {
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": str(note.get("SignatureVersion", "1")),
            "Timestamp": note.get("Timestamp"),
            "Signature": note.get("Signature", ""),
            "SigningCertUrl": note.get("SigningCertURL", ""),
            "MessageId": note.get("MessageId"),
            "Message": note.get("Message", ""),
            "MessageAttributes": note.get("MessageAttributes") or {},
            "Type": note.get("Type", "Notification"),
            "UnsubscribeUrl": note.get("UnsubscribeURL", ""),
            "TopicArn": note.get("TopicArn"),
            "Subject": note.get("Subject"),
        },
    }
