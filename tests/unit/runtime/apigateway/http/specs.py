"""Routes and HTTP APIs as the template loader builds them, from route keys alone."""

from __future__ import annotations

from hubbub.runtime.cloudformation import (
    CorsSpec,
    HttpApiSpec,
    HttpRouteSpec,
    parse_route_key,
)

__all__ = ["api", "route"]


def route(key: str, function: str = "Fn") -> HttpRouteSpec:
    method, path = parse_route_key(key, "test")
    return HttpRouteSpec(key=key, function=function, method=method, path=path)


def api(*keys: str, stage: str = "$default", cors: CorsSpec | None = None) -> HttpApiSpec:
    return HttpApiSpec(
        logical_id="Api",
        api_id="abcdef1234",
        stage=stage,
        routes={key: route(key) for key in keys},
        cors=cors,
    )
