"""The events built from received messages (``sqs.events``) validate against Powertools'
models of what Lambda delivers, and carry each field where AWS puts it.

AWS: *Using Lambda with Amazon SQS* (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)
shows the SQS record (camelCase, ``attributes``, ``messageAttributes`` with ``stringValue`` and
list values, ``md5OfBody``, ``eventSource`` ``aws:sqs``); *Invoking Lambda functions with Amazon
SNS notifications* (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html) the SNS record
(``SigningCertUrl``, ``UnsubscribeUrl``)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SnsModel, SqsModel

from hubbub.runtime.sqs.events import sns_record, sqs_record

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:work"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:news"


def received(body: str, **attributes: dict[str, Any]) -> dict[str, Any]:
    """A message as boto3's ReceiveMessage returns it (AttributeNames/MessageAttributeNames All)."""
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "AQEB" + uuid.uuid4().hex,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Body": body,
        "Attributes": {
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "SentTimestamp": "1796543064334",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1796543064348",
        },
        "MessageAttributes": attributes,
    }


def test_an_sqs_record_validates_and_renames_fields() -> None:
    message = received(
        '{"n": 1}',
        text={"DataType": "String", "StringValue": "hi"},
        blob={"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    )
    record = sqs_record(message, QUEUE_ARN, "us-east-1")
    SqsModel.model_validate({"Records": [record]})
    assert record["messageId"] == message["MessageId"]
    assert record["receiptHandle"] == message["ReceiptHandle"]
    assert record["body"] == '{"n": 1}'
    assert record["md5OfBody"] == message["MD5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["text"] == {
        "stringValue": "hi",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert (
        record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()
    )
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        QUEUE_ARN,
        "us-east-1",
    )


def test_an_sns_record_from_a_delivered_notification_validates() -> None:
    notification = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC_ARN,
        "Subject": "greeting",
        "Message": "hello",
        "Timestamp": "2026-12-06T07:44:24.667Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        "MessageAttributes": {"k": {"Type": "String", "Value": "v"}},
    }
    subscription = f"{TOPIC_ARN}:{uuid.uuid4()}"
    record = sns_record(json.dumps(notification), subscription)
    SnsModel.model_validate({"Records": [record]})
    sns = record["Sns"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == subscription
    assert sns["SigningCertUrl"] == notification["SigningCertURL"]
    assert sns["UnsubscribeUrl"] == notification["UnsubscribeURL"]
    assert (sns["Message"], sns["Subject"], sns["TopicArn"]) == ("hello", "greeting", TOPIC_ARN)
    assert sns["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
