"""Which route of an HTTP API takes a request, and the path parameters it binds.

API Gateway prefers the most specific route whatever the template's order; the rank below is that
preference, so a table is one sort at load and a first match per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.cloudformation import HttpRouteSpec

__all__ = ["RouteMatch", "RouteTable", "is_variable"]


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: HttpRouteSpec
    path_parameters: dict[str, str]


def is_variable(segment: str) -> bool:
    """``{name}`` or ``{name+}``: a path segment that binds a parameter."""
    return segment.startswith("{") and segment.endswith("}")


@dataclass(frozen=True, slots=True)
class _Pattern:
    route: HttpRouteSpec
    segments: tuple[str, ...]
    greedy: str | None
    """The greedy variable's name when the path ends in ``{name+}``."""

    @classmethod
    def of(cls, route: HttpRouteSpec) -> _Pattern:
        assert route.path is not None
        segments = tuple(route.path.split("/")[1:])
        if segments and is_variable(segments[-1]) and segments[-1].endswith("+}"):
            return cls(route, segments[:-1], segments[-1][1:-2])
        return cls(route, segments, None)

    def bind(self, method: str | None, parts: Sequence[str]) -> dict[str, str] | None:
        """The path parameters when this route takes the request (of any method when ``method``
        is None), else None."""
        if method is not None and self.route.method not in ("ANY", method):
            return None
        fixed = len(self.segments)
        if len(parts) < fixed or (self.greedy is None and len(parts) != fixed):
            return None
        params: dict[str, str] = {}
        for template, part in zip(self.segments, parts, strict=False):
            if is_variable(template):
                if not part:
                    return None
                params[template[1:-1]] = part
            elif template != part:
                return None
        if self.greedy is not None:
            rest = "/".join(parts[fixed:])
            if not rest:
                return None
            params[self.greedy] = rest
        return params

    def rank(self) -> tuple[Any, ...]:
        """API Gateway's preference, smallest first: a full match before a greedy one, the
        longest greedy prefix first, a literal segment before a variable, a named method before
        ``ANY``."""
        return (
            self.greedy is not None,
            -len(self.segments),
            tuple(is_variable(s) for s in self.segments),
            self.route.method == "ANY",
        )


class RouteTable:
    """One API's routes, answering which route (if any) takes a method and a path."""

    def __init__(self, routes: Iterable[HttpRouteSpec]) -> None:
        self._default: HttpRouteSpec | None = None
        self._patterns: list[_Pattern] = []
        for route in routes:
            if route.is_default:
                self._default = route
            else:
                self._patterns.append(_Pattern.of(route))
        self._patterns.sort(key=_Pattern.rank)

    def match(self, method: str, path: str) -> RouteMatch | None:
        parts = path.split("/")[1:]
        for pattern in self._patterns:
            params = pattern.bind(method.upper(), parts)
            if params is not None:
                return RouteMatch(pattern.route, params)
        if self._default is not None:
            return RouteMatch(self._default, {})
        return None

    def resource(self, path: str) -> tuple[str, dict[str, HttpRouteSpec]] | None:
        """A REST API's choice, resource first: the most specific resource path that takes the
        request path, with its methods (``ANY`` among them); the method is looked up after, so
        a method the chosen resource lacks is not sent on to a less specific one."""
        parts = path.split("/")[1:]
        for pattern in self._patterns:
            if pattern.bind(None, parts) is not None:
                assert pattern.route.path is not None
                methods = {
                    p.route.method: p.route
                    for p in self._patterns
                    if p.route.path == pattern.route.path
                }
                return pattern.route.path, methods
        return None

    def match_resource(self, method: str, path: str) -> RouteMatch | None:
        """The route a REST API gives the request: its resource's method, else its ``ANY``."""
        found = self.resource(path)
        if found is None:
            return None
        _, methods = found
        route = methods.get(method.upper()) or methods.get("ANY")
        if route is None:
            return None
        params = _Pattern.of(route).bind(None, path.split("/")[1:])
        assert params is not None
        return RouteMatch(route, params)
