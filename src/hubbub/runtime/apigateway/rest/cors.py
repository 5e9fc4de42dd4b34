"""SAM's CORS for a REST API: an OPTIONS method on every path, answered by the API itself (a mock
integration) with the template's values verbatim. The function's own answers are untouched: with
a Lambda proxy integration the function must set ``Access-Control-Allow-Origin`` itself."""

from __future__ import annotations

from collections.abc import Iterable

from hubbub.runtime.apigateway.http.responses import HttpResult
from hubbub.runtime.cloudformation import RestCorsSpec

__all__ = ["ALL_METHODS", "preflight_answer"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def preflight_answer(cors: RestCorsSpec, path_methods: Iterable[str]) -> HttpResult:
    """The mock OPTIONS answer; without ``AllowMethods`` it lists the path's methods (every
    method for ``ANY``) and OPTIONS, as SAM writes it."""
    methods = cors.allow_methods
    if methods is None:
        found = set(path_methods)
        listed = set(ALL_METHODS) if "ANY" in found else found | {"OPTIONS"}
        methods = ",".join(sorted(listed))
    headers = [
        ("content-type", "application/json"),
        ("Access-Control-Allow-Origin", cors.allow_origin),
        ("Access-Control-Allow-Methods", methods),
    ]
    if cors.allow_headers is not None:
        headers.append(("Access-Control-Allow-Headers", cors.allow_headers))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", cors.max_age))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResult(200, tuple(headers), b"")
