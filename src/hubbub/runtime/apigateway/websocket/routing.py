"""Which route a WebSocket text frame goes to, by the API's ``RouteSelectionExpression``.

API Gateway's selection expressions (*WebSocket selection expressions* and *Create routes for
WebSocket APIs*, API Gateway developer guide): static text with ``$request.body.<path>``
variables, unwrapped or wrapped in braces (``${request.body.action}``, the form AWS's own
examples use), several of them in one expression, ``\\$`` for a literal dollar. A variable whose
path is not in the body resolves to ``""``; a value that is not a string is stringified (the
guide's example: an array of two elements becomes ``"[item1, item2]"``). The result names the
route; a frame that is not JSON, or a result no route has, goes to ``$default``, as on AWS.

Parsing happens once per API (:func:`compile_expression`); :func:`select_route` runs per frame.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_ROUTE",
    "Expression",
    "compile_expression",
    "select_route",
    "stringify",
]

DEFAULT_ROUTE = "$default"
_BODY = "request.body"
_UNWRAPPED = re.compile(r"\$(request\.body(?:\.[A-Za-z0-9_\-]+|\[\d+\])*)")
_WRAPPED = re.compile(r"\$\{([^}]*)\}")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled selection expression: literal text and body paths, in order. ``reads_body``
    is False for a static expression (every frame then selects the same key)."""

    parts: tuple[str | Path, ...]

    @property
    def reads_body(self) -> bool:
        return any(not isinstance(part, str) for part in self.parts)


def _path(variable: str) -> Path | None:
    """The steps of ``request.body.a.b[0]``, or None for a variable that is not the body's
    (``$request.header.x`` and others are not route selection variables on AWS)."""
    if not variable.startswith(_BODY):
        return None
    rest = variable[len(_BODY) :]
    steps: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _STEP.match(rest, pos)
        if match is None:
            return None
        key, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (key if key is not None else quoted))
        pos = match.end()
    return tuple(steps)


def compile_expression(expression: str) -> Expression:
    """Parses ``expression`` once. A variable the runtime cannot read resolves to ``""``."""
    parts: list[str | Path] = []
    literal: list[str] = []
    pos = 0
    while pos < len(expression):
        char = expression[pos]
        if char == "\\" and expression.startswith("$", pos + 1):
            literal.append("$")
            pos += 2
            continue
        if char == "$":
            match = _WRAPPED.match(expression, pos) or _UNWRAPPED.match(expression, pos)
            if match is not None:
                if literal:
                    parts.append("".join(literal))
                    literal = []
                path = _path(match.group(1))
                parts.append(path if path is not None else "")
                pos = match.end()
                continue
        literal.append(char)
        pos += 1
    if literal:
        parts.append("".join(literal))
    return Expression(tuple(parts))


def stringify(value: Any) -> str:
    """A selected JSON value as the route key API Gateway compares: strings as they are,
    numbers and booleans as JSON writes them, ``null`` as ``""`` (like a missing path), and
    arrays and objects in the collection form the guide shows (``[item1, item2]``)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={stringify(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _walk(body: Any, path: Path) -> Any:
    value = body
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def select_route(expression: Expression, routes: Container[str], body: str) -> str:
    """The route key for one text frame."""
    if expression.reads_body:
        try:
            parsed: Any = json.loads(body)
        except (ValueError, RecursionError):
            return DEFAULT_ROUTE  # "Non-JSON messages are directed to a $default route"
    else:
        parsed = None
    key = "".join(
        part if isinstance(part, str) else stringify(_walk(parsed, part))
        for part in expression.parts
    )
    return key if key in routes else DEFAULT_ROUTE
