"""Lambda event filtering (``FilterCriteria``) of an event source mapping, as a pure matcher.

A mapping may carry up to five filters; a record goes to the function when any filter matches,
and a record that none matches is dropped: the mapping moves past it as if it had been handled.
A pattern is a JSON object that mirrors the record; its leaves are arrays of matchers, any of
which may match. Lambda takes its rule syntax from EventBridge, and so its semantics:

- a record is seen as its *leaves* (scalars, and arrays of scalars); objects are intermediate
  nodes. ``{"exists": true}`` matches only a leaf that is there; ``{"exists": false}`` matches
  wherever there is no leaf, so under an absent parent, and on an object too.
- ``numeric`` and number literals match only JSON numbers. DynamoDB JSON carries numbers as
  strings (``{"N": "5"}``), so a numeric filter on a stream image never matches; match the
  string (``{"N": ["5"]}``) instead, as on AWS. ``300`` and ``300.0`` are not equal.
- strings match character for character; a record value that is an array matches when one of
  its elements does, and a sub-pattern under an array of objects when one of them matches.

Patterns are checked when the template is read, so a typo fails ``hubbub serve`` instead of
silently dropping every record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FilterError", "compile_filters", "matches", "matches_any"]

_MISSING = object()
_OPERATORS = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}
)
_COMPARISONS = frozenset({"=", "<", "<=", ">", ">="})


class FilterError(ValueError):
    """A filter pattern Lambda would refuse."""


def compile_filters(criteria: Any, where: str) -> tuple[dict[str, Any], ...]:
    """The patterns of a ``FilterCriteria`` property, parsed and checked."""
    if not criteria:
        return ()
    if not isinstance(criteria, Mapping):
        raise FilterError(f"{where}: FilterCriteria must be an object with Filters")
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list) or len(filters) > 5:
        raise FilterError(f"{where}: FilterCriteria.Filters must be a list of at most 5 filters")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(filters):
        raw = item.get("Pattern") if isinstance(item, Mapping) else None
        if isinstance(raw, str):
            try:
                pattern = json.loads(raw)
            except ValueError as exc:
                raise FilterError(f"{where}: filter {index} is not JSON: {exc}") from None
        else:
            pattern = raw
        if not isinstance(pattern, dict):
            raise FilterError(f"{where}: filter {index} must be a JSON object")
        _check(pattern, f"{where}: filter {index}")
        out.append(pattern)
    return tuple(out)


def _check(pattern: Mapping[str, Any], where: str) -> None:
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            _check(value, f"{where}.{key}")
        elif isinstance(value, list):
            for matcher in value:
                _check_matcher(matcher, f"{where}.{key}")
        else:
            raise FilterError(f"{where}.{key}: a leaf must be an array of matchers")


def _check_matcher(matcher: Any, where: str) -> None:
    if matcher is None or isinstance(matcher, str | int | float | bool):
        return
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        raise FilterError(f"{where}: {matcher!r} is not a matcher")
    ((name, arg),) = matcher.items()
    if name not in _OPERATORS:
        raise FilterError(f"{where}: unknown operator {name!r}")
    if name in ("prefix", "suffix", "equals-ignore-case") and not isinstance(arg, str):
        raise FilterError(f"{where}: {name} takes a string")
    if name == "exists" and not isinstance(arg, bool):
        raise FilterError(f"{where}: exists takes true or false")
    if name == "numeric":
        _numeric_terms(arg, where)
    if name == "anything-but":
        if isinstance(arg, Mapping):
            if set(arg) != {"prefix"} or not isinstance(arg["prefix"], str):
                raise FilterError(f"{where}: anything-but takes values or {{prefix}}")
        elif not isinstance(arg, list | str | int | float):
            raise FilterError(f"{where}: anything-but takes values or {{prefix}}")


def _numeric_terms(arg: Any, where: str) -> list[tuple[str, float]]:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise FilterError(f"{where}: numeric takes [op, number, ...]")
    terms: list[tuple[str, float]] = []
    for op, number in zip(arg[::2], arg[1::2], strict=True):
        if op not in _COMPARISONS or isinstance(number, bool):
            raise FilterError(f"{where}: numeric term {op!r} {number!r} is not valid")
        if not isinstance(number, int | float):
            raise FilterError(f"{where}: numeric bound {number!r} is not a number")
        terms.append((op, float(number)))
    return terms


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when there are no filters or one of them matches."""
    return not patterns or any(matches(p, record) for p in patterns)


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    for key, expected in pattern.items():
        actual = record.get(key, _MISSING) if isinstance(record, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not _nested(expected, actual):
                return False
        elif not _leaf(expected, actual):
            return False
    return True


def _nested(pattern: Mapping[str, Any], actual: Any) -> bool:
    """A sub-pattern: against an object, or any object of an array; an absent or scalar node
    has no leaves below it, which only ``{"exists": false}`` matchers accept."""
    if isinstance(actual, Mapping):
        return matches(pattern, actual)
    if isinstance(actual, list) and any(isinstance(v, Mapping) for v in actual):
        return any(matches(pattern, v) for v in actual if isinstance(v, Mapping))
    return matches(pattern, {})


def _is_leaf(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and not any(isinstance(v, Mapping | list) for v in value)
    return not isinstance(value, Mapping)


def _leaf(matchers: Sequence[Any], actual: Any) -> bool:
    if actual is _MISSING or not _is_leaf(actual):
        return any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
    values = actual if isinstance(actual, list) else [actual]
    return any(_one(m, v) for m in matchers for v in values)


def _one(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _equal(matcher, value)
    ((name, arg),) = matcher.items()
    if name == "exists":
        return bool(arg)
    if name == "prefix":
        return isinstance(value, str) and value.startswith(arg)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(arg)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(arg).casefold()
    if name == "anything-but":
        if isinstance(arg, Mapping):
            return isinstance(value, str) and not value.startswith(arg["prefix"])
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_equal(e, value) for e in excluded)
    if name == "numeric":
        if not _is_number(value):
            return False
        number = float(value)
        return all(_compare(number, op, bound) for op, bound in _numeric_terms(arg, "numeric"))
    return False


def _is_number(value: Any) -> bool:
    """A JSON number: not a bool, not a string holding digits (DynamoDB's ``N``)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float):
        # numbers compare by their JSON form: 300 and 300.0 differ, "300" is a string
        return _is_number(value) and type(value) is type(expected) and value == expected
    return isinstance(value, str) and value == expected


def _compare(number: float, op: str, bound: float) -> bool:
    if op == "=":
        return number == bound
    if op == "<":
        return number < bound
    if op == "<=":
        return number <= bound
    if op == ">":
        return number > bound
    return number >= bound
