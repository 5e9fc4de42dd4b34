"""echo-router: one function for every route of a WebSocket API.

- ``$connect`` remembers the connection (and the ``?name=`` it gave) in the connections table;
- ``$disconnect`` forgets it;
- ``echo`` sends the frame's ``data`` back to the sender;
- ``broadcast`` sends ``{"from", "message"}`` to every connection, forgetting the gone ones;
- anything else (``$default``) answers with an error frame.

Replies go through the ``@connections`` API at ``https://{domainName}/{stage}``, built from the
event, as most WebSocket Lambdas do. Plain boto3, nothing else.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    route = request["routeKey"]
    connection_id = request["connectionId"]
    if route == "$connect":
        params = event.get("queryStringParameters") or {}
        table.put_item(Item={"id": connection_id, "name": params.get("name", "anonymous")})
        return {"statusCode": 200}
    if route == "$disconnect":
        table.delete_item(Key={"id": connection_id})
        return {"statusCode": 200}

    api = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{request['domainName']}/{request['stage']}",
    )
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        body = {}
    if route == "echo":
        reply = {"echo": body.get("data")}
        api.post_to_connection(ConnectionId=connection_id, Data=json.dumps(reply).encode())
    elif route == "broadcast":
        sender = table.get_item(Key={"id": connection_id}).get("Item") or {}
        frame = json.dumps({"from": sender.get("name"), "message": body.get("message")})
        delivered, gone = broadcast(api, frame.encode())
        summary = {"delivered": delivered, "gone": gone}
        api.post_to_connection(ConnectionId=connection_id, Data=json.dumps(summary).encode())
    else:
        error = {"error": "unknown action", "actions": ["echo", "broadcast"]}
        api.post_to_connection(ConnectionId=connection_id, Data=json.dumps(error).encode())
    return {"statusCode": 200}


def connections() -> list[str]:
    """Every connection id; a Scan is fine for a demo's handful (see authorized-rooms for a
    keyed design that Queries one room instead)."""
    ids: list[str] = []
    kwargs: dict[str, Any] = {"ProjectionExpression": "id"}
    while True:
        page = table.scan(**kwargs)
        ids += [str(item["id"]) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return ids
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def broadcast(api: Any, data: bytes) -> tuple[int, int]:
    """Post to every connection and forget the gone ones (410): (delivered, gone)."""
    delivered = gone = 0
    for other in connections():
        try:
            api.post_to_connection(ConnectionId=other, Data=data)
            delivered += 1
        except api.exceptions.GoneException:  # caught before ClientError, its base class
            table.delete_item(Key={"id": other})
            gone += 1
    return delivered, gone
