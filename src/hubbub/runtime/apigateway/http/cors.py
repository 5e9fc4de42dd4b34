"""CORS as an HTTP API's ``CorsConfiguration`` applies it: API Gateway answers preflights itself,
before routing, and puts the configured headers on every actual response in place of the
function's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hubbub.runtime.apigateway.http.responses import HttpResult
from hubbub.runtime.cloudformation import CorsSpec

__all__ = ["cors_headers", "is_preflight", "preflight_response"]


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """Only an OPTIONS carrying the browser's two preflight headers is answered by the gateway;
    any other OPTIONS is routed like any method."""
    return (
        method.upper() == "OPTIONS"
        and "origin" in {k.lower() for k in headers}
        and "access-control-request-method" in {k.lower() for k in headers}
    )


def _allowed_origin(cors: CorsSpec, origin: str) -> str | None:
    for allowed in cors.allow_origins:
        if allowed == "*":
            return "*"
        if allowed.endswith("*") and origin.lower().startswith(allowed[:-1].lower()):
            return origin
        if allowed.lower() == origin.lower():
            return origin
    return None


def preflight_response(cors: CorsSpec, origin: str, request_method: str) -> HttpResult:
    """API Gateway answers a preflight itself, before routing; a refused origin or method gets
    the 204 without any CORS header, which the browser treats as a refusal."""
    allowed = _allowed_origin(cors, origin)
    methods = cors.allow_methods
    if allowed is None or ("*" not in methods and request_method.upper() not in methods):
        return HttpResult(204, (), b"")
    headers = [
        ("access-control-allow-origin", allowed),
        ("access-control-allow-methods", ",".join(methods)),
    ]
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age_s is not None:
        headers.append(("access-control-max-age", str(cors.max_age_s)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    return HttpResult(204, tuple(headers), b"")


def cors_headers(result: HttpResult, cors: CorsSpec, origin: str) -> HttpResult:
    """The configured CORS headers on an actual response, replacing any the function set."""
    lines = [(k, v) for k, v in result.headers if not k.lower().startswith("access-control-")]
    allowed = _allowed_origin(cors, origin)
    if allowed is not None:
        lines.append(("access-control-allow-origin", allowed))
        if cors.expose_headers:
            lines.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        if cors.allow_credentials:
            lines.append(("access-control-allow-credentials", "true"))
    return replace(result, headers=tuple(lines))
