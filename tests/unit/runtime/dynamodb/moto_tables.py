"""Tables with a stream in a moto server, for the tests that read streams through botocore."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from hubbub.runtime.dynamodb.sources import DynamoStreamSource

__all__ = ["Table", "client", "new_table"]

CREDENTIALS = {"aws_access_key_id": "AKIALOCALTEST", "aws_secret_access_key": "x"}


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)


@dataclass
class Table:
    name: str
    stream_arn: str
    dynamodb: Any
    streams: Any

    def source(self, **kwargs: Any) -> DynamoStreamSource:
        return DynamoStreamSource(self.streams, self.stream_arn, **kwargs)


def new_table(endpoint: str) -> Table:
    """A table keyed ``pk`` (a String) with a NEW_AND_OLD_IMAGES stream, under a fresh name."""
    dynamodb = client(endpoint, "dynamodb")
    name = f"t{uuid.uuid4().hex[:12]}"
    created = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn = created["TableDescription"]["LatestStreamArn"]
    return Table(name, arn, dynamodb, client(endpoint, "dynamodbstreams"))
