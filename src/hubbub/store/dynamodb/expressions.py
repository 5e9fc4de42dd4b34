"""Condition and update expressions, written with ``#attr`` and ``:value`` placeholders.

Every attribute is aliased so that no reserved word can break a request, and only the names and
values an expression uses are sent, which DynamoDB insists on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeSerializer

__all__ = ["optional", "placeholders", "update"]

_SERIALIZER = TypeSerializer()


def placeholders(*expressions: str, **values: Any) -> dict[str, Any]:
    """``ExpressionAttributeNames``/``Values`` for these expressions (``#attr`` -> ``attr``)."""
    text = " ".join(expressions)
    out: dict[str, Any] = {}
    names = sorted(set(re.findall(r"#(\w+)", text)))
    if names:
        out["ExpressionAttributeNames"] = {f"#{name}": name for name in names}
    used = set(re.findall(r":(\w+)", text))
    if used:
        out["ExpressionAttributeValues"] = {
            f":{name}": _SERIALIZER.serialize(value)
            for name, value in values.items()
            if name in used
        }
    return out


def update(
    sets: Mapping[str, Any], removes: Iterable[str] = (), *, raw_sets: Iterable[str] = ()
) -> tuple[str, dict[str, Any]]:
    """An UpdateExpression that SETs ``sets`` (attribute -> value) and REMOVEs ``removes``.

    ``raw_sets`` are extra SET clauses written by hand, such as ``if_not_exists`` ones.
    """
    assignments = [*raw_sets, *(f"#{name} = :{name}" for name in sets)]
    clauses = ["SET " + ", ".join(assignments)]
    removed = list(removes)
    if removed:
        clauses.append("REMOVE " + ", ".join(f"#{name}" for name in removed))
    return " ".join(clauses), dict(sets)


def optional(**values: Any) -> tuple[dict[str, Any], list[str]]:
    """Split attributes into those to SET and the ``None`` ones to REMOVE."""
    sets = {name: value for name, value in values.items() if value is not None}
    return sets, [name for name, value in values.items() if value is None]
