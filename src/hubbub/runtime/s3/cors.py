"""A bucket's CORS configuration applied to a request: pure.

As *Using cross-origin resource sharing (CORS)* describes it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html): the first rule whose
``AllowedOrigins`` match the ``Origin`` (one ``*`` wildcard each), whose ``AllowedMethods`` hold
the method (for a preflight, ``Access-Control-Request-Method``) and whose ``AllowedHeaders``
match every header of ``Access-Control-Request-Headers`` answers; no rule matching a preflight is
403. A rule allowing every origin answers ``*``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["cors_headers"]


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


def cors_headers(
    rules: Sequence[Mapping[str, Any]],
    origin: str,
    method: str,
    request_headers: Sequence[str] = (),
    *,
    preflight: bool = False,
) -> dict[str, str] | None:
    """The ``Access-Control-*`` headers of the answer, or None when no rule allows it."""
    for rule in rules:
        origins = [str(o) for o in rule.get("AllowedOrigins", [])]
        methods = [str(m).upper() for m in rule.get("AllowedMethods", [])]
        allowed_headers = [str(h) for h in rule.get("AllowedHeaders", [])]
        if not any(_matches(o, origin) for o in origins) or method.upper() not in methods:
            continue
        if not all(any(_matches(p, h) for p in allowed_headers) for h in request_headers):
            continue
        headers = {
            "Access-Control-Allow-Origin": "*" if "*" in origins else origin,
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        }
        if preflight and request_headers:
            headers["Access-Control-Allow-Headers"] = ", ".join(request_headers)
        if preflight and "MaxAge" in rule:
            headers["Access-Control-Max-Age"] = str(rule["MaxAge"])
        exposed = rule.get("ExposedHeaders")
        if exposed:
            headers["Access-Control-Expose-Headers"] = ", ".join(str(h) for h in exposed)
        return headers
    return None
