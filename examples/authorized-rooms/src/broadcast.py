"""The table's stream -> every member of the message's room, through ``@connections``.

Only message inserts arrive (the mapping's FilterCriteria). A member whose connection is gone
(410) is removed from the room; a record that could not be delivered for another reason is
reported in ``batchItemFailures`` so Lambda retries from it, and only it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from rooms import table

api = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_URL"])
_deserializer = TypeDeserializer()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        image = record["dynamodb"]["NewImage"]
        message = {k: _deserializer.deserialize(v) for k, v in image.items()}
        try:
            deliver(message)
        except ClientError:
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}


def deliver(message: dict[str, Any]) -> None:
    room_pk = str(message["pk"])
    frame = json.dumps(
        {
            "room": room_pk.removeprefix("ROOM#"),
            "from": message["user"],
            "text": message["text"],
            "id": str(message["sk"]).rsplit("#", 1)[-1],
        }
    ).encode()
    members = table.query(
        KeyConditionExpression=Key("pk").eq(room_pk) & Key("sk").begins_with("CONN#")
    )["Items"]
    for member in members:
        connection_id = str(member["sk"]).removeprefix("CONN#")
        try:
            api.post_to_connection(ConnectionId=connection_id, Data=frame)
        except api.exceptions.GoneException:
            table.delete_item(Key={"pk": room_pk, "sk": member["sk"]})
