"""A tiny WebSocket app for runtime tests: records every event it gets, sleeps or fails on demand.

It imports nothing from hubbub: the runtime must run it exactly as Lambda would.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

WARM = {"invocations": 0}


def _record(event: dict[str, Any]) -> None:
    path = Path(os.environ["HUBBUB_RUNTIME_DATA_DIR"]) / "events.jsonl"
    with path.open("a") as out:
        out.write(json.dumps(event) + "\n")


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event)
    WARM["invocations"] += 1
    body = {
        "route": event["requestContext"]["routeKey"],
        "connectionId": event["requestContext"]["connectionId"],
        "warm": WARM["invocations"],
        "function": context.function_name,
        "remainingMs": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
    }
    return {"statusCode": 200, "body": json.dumps(body)}


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seconds = float(json.loads(event["body"]).get("seconds", 0))
    time.sleep(seconds)
    return {"statusCode": 200, "body": json.dumps({"slept": seconds, "pid": os.getpid()})}


def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("boom")
