"""A tiny REST API and schedule app for runtime tests: records every event it gets and answers in
the response shapes a REST API's Lambda proxy integration (payload format 1.0) accepts, and some
it refuses.

It imports nothing from hubbub: the runtime must run it exactly as Lambda would.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"

SHAPES: dict[str, Any] = {
    "full": {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-Probe": "full", "X-Both": "single"},
        "multiValueHeaders": {"X-Multi": ["a", "b"], "X-Both": ["m1", "m2"]},
        "body": "created",
        "isBase64Encoded": False,
    },
    "bare": {"statusCode": 202, "body": "accepted"},
    "cookies": {"statusCode": 200, "cookies": ["a=1"], "body": "2.0 only"},
    "object": {"hello": "world"},
    "malformed": {"statusCode": "teapot"},
}


def _record(kind: str, event: Any) -> None:
    path = Path(os.environ["HUBBUB_RUNTIME_DATA_DIR"]) / f"{kind}-events.jsonl"
    line = (json.dumps(event) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def record(event: dict[str, Any], context: Any) -> Any:
    _record("rest", event)
    shape = (event.get("pathParameters") or {}).get("shape")
    if shape is not None:
        return SHAPES[shape]
    if event["resource"] == "/picture":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(PNG_BYTES).decode(),
            "isBase64Encoded": True,
        }
    summary = {
        "resource": event["resource"],
        "pathParameters": event.get("pathParameters"),
        "stageVariables": event.get("stageVariables"),
        "function": context.function_name,
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        "body": json.dumps(summary),
    }


def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record("rest", event)
    raise RuntimeError("the probe fails on purpose")


def tick(event: Any, context: Any) -> dict[str, Any]:
    _record("schedule", event)
    return {"ticked": True}
