"""Handlers for the Lambda-fidelity probe: they record their events and report what the
runtime handed them (context object, environment). Imports nothing from hubbub."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = Path(os.environ["HUBBUB_RUNTIME_DATA_DIR"]) / "events.jsonl"
    with path.open("a") as out:
        out.write(json.dumps(event) + "\n")
    body = {"route": event["requestContext"]["routeKey"]}
    return {"statusCode": 200, "body": json.dumps(body)}


def describe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = {
        "aws_request_id": context.aws_request_id,
        "event_request_id": event["requestContext"]["requestId"],
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "identity": {
            "type": type(context.identity).__name__,
            "cognito_identity_id": context.identity.cognito_identity_id,
            "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        },
        "client_context": context.client_context,
        "log_stream_name": context.log_stream_name,
        "TZ": os.environ.get("TZ"),
        "utc_offset": time.strftime("%z"),
        "_X_AMZN_TRACE_ID": os.environ.get("_X_AMZN_TRACE_ID"),
        "AWS_LAMBDA_LOG_STREAM_NAME": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
    return {"statusCode": 200, "body": json.dumps(body)}


def bare(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}
