"""A tiny HTTP API app for runtime tests: records every event it gets and answers in each of the
response shapes API Gateway's payload format 2.0 accepts.

It imports nothing from hubbub: the runtime must run it exactly as Lambda would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"

SHAPES: dict[str, Any] = {
    "full": {
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-probe": "full"},
        "multiValueHeaders": {"x-multi": ["a", "b"]},
        "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"],
        "body": "created",
    },
    "binary": {
        "statusCode": 200,
        "headers": {"content-type": "image/png"},
        "body": base64.b64encode(PNG_BYTES).decode(),
        "isBase64Encoded": True,
    },
    "bare": {"statusCode": 202, "body": "accepted"},
    "object": {"hello": "world", "n": 1},
    "string": "just text",
    "list": [1, "two", None],
    "null": None,
    "malformed": {"statusCode": "teapot"},
}


def _record(event: dict[str, Any]) -> None:
    path = Path(os.environ["HUBBUB_RUNTIME_DATA_DIR"]) / "http-events.jsonl"
    line = (json.dumps(event) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def record(event: dict[str, Any], context: Any) -> Any:
    _record(event)
    shape = (event.get("pathParameters") or {}).get("shape")
    if shape is not None:
        return SHAPES[shape]
    summary = {
        "routeKey": event["routeKey"],
        "pathParameters": event.get("pathParameters"),
        "function": context.function_name,
    }
    return {
        "statusCode": 200,
        "headers": {
            "content-type": "application/json",
            "x-probe": "record",
            "access-control-allow-origin": "https://evil.example",
        },
        "body": json.dumps(summary),
    }


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event)
    seconds = float((event.get("queryStringParameters") or {}).get("seconds", "0"))
    time.sleep(seconds)
    return {"statusCode": 200, "body": json.dumps({"slept": seconds})}


def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event)
    raise RuntimeError("boom")
