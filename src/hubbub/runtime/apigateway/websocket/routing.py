"""Which route a WebSocket text frame goes to, by the API's ``RouteSelectionExpression``.

Only ``$request.body.<path>`` expressions select by content (the only kind API Gateway allows for
WebSocket APIs besides constants); a frame that is not JSON, lacks the path, or names a route the
API does not have goes to ``$default``, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from typing import Any

__all__ = ["DEFAULT_ROUTE", "select_route", "selection_path"]

DEFAULT_ROUTE = "$default"
_BODY = "$request.body."


def selection_path(expression: str) -> tuple[str, ...] | None:
    """The keys to walk into the frame's JSON body, or None when the expression does not read
    the body (every frame then goes to ``$default``)."""
    if not expression.startswith(_BODY):
        return None
    return tuple(expression[len(_BODY) :].split("."))


def select_route(path: Sequence[str] | None, routes: Container[str], body: str) -> str:
    """The route key for one text frame (binary frames always go to ``$default``)."""
    if path is None:
        return DEFAULT_ROUTE
    try:
        value: Any = json.loads(body)
    except (ValueError, RecursionError):
        return DEFAULT_ROUTE
    for key in path:
        if not isinstance(value, dict):
            return DEFAULT_ROUTE
        value = value.get(key)
    if isinstance(value, str) and value in routes:
        return value
    return DEFAULT_ROUTE
