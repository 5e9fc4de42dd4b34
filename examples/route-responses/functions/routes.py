"""Two-way routes: each function's ``body`` goes straight back to the caller (the routes have
route responses), so no function needs the ``@connections`` API.

``add`` and ``greet`` answer their action; ``fallback`` is the ``$default`` route and answers
whatever no route took (unknown actions, frames that are not JSON) with an error; ``admin``
exists only when the stack is deployed with ``EnableAdmin=true``.
"""

from __future__ import annotations

import json
import os
from typing import Any

ACTIONS = ["add", "greet", "ping"]


def _reply(body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body)}


def _frame(event: dict[str, Any]) -> dict[str, Any]:
    value = json.loads(event.get("body") or "{}")
    if not isinstance(value, dict):
        raise ValueError("a frame must be a JSON object")
    return value


def add(event: dict[str, Any], context: Any) -> dict[str, Any]:
    numbers = _frame(event).get("numbers")
    if not isinstance(numbers, list) or not all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
    ):
        return _reply({"error": "numbers must be a list of numbers"}, 400)
    return _reply({"sum": sum(numbers)})


def greet(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = str(_frame(event).get("name") or "stranger")
    return _reply({"greeting": f"{os.environ['GREETING']}, {name}!"})


def fallback(event: dict[str, Any], context: Any) -> dict[str, Any]:
    actions = ACTIONS + ([os.environ["ADMIN_ROUTE"]] if "ADMIN_ROUTE" in os.environ else [])
    try:
        action = _frame(event).get("action")
    except ValueError:
        return _reply({"error": "frames must be JSON objects", "actions": actions}, 400)
    return _reply({"error": f"unknown action {action!r}", "actions": actions}, 400)


def admin(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    return _reply(
        {
            "stage": os.environ["STAGE"],
            "function": context.function_name,
            "connectionId": request["connectionId"],
        }
    )
