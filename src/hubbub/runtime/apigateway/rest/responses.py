"""What the client gets for the function's answer, by a REST API's Lambda proxy rules (payload
format 1.0), and the REST API's own error responses.

Format 1.0 is strict where 2.0 is lenient: the answer must be an object with a ``statusCode`` and
no keys besides the five it defines, or the client gets 502 ``Internal server error`` (AWS logs
"Malformed Lambda proxy response"). ``headers`` and ``multiValueHeaders`` are merged, the
multi-value list winning for a name in both. A base64 body is sent as bytes only when the
request's ``Accept`` names one of the API's binary media types; otherwise the base64 text is
the body, as on AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hubbub.runtime.apigateway.http.responses import (
    HttpResult,
    MalformedResponse,
    gateway_error,
    header_value,
    response_body,
    status_code,
    without_framing,
)
from hubbub.runtime.apigateway.rest.events import is_binary
from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = [
    "BAD_GATEWAY",
    "MISSING_TOKEN",
    "PROXY_KEYS",
    "TIMED_OUT",
    "map_proxy_response",
    "rest_result_response",
]

log = logging.getLogger("hubbub.restapi")

PROXY_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})

MISSING_TOKEN = replace(
    gateway_error(403, "Missing Authentication Token"),
    headers=(
        ("content-type", "application/json"),
        ("x-amzn-ErrorType", "MissingAuthenticationTokenException"),
    ),
)
"""A REST API's answer to a path or method it does not have (not 404)."""
BAD_GATEWAY = gateway_error(502, "Internal server error")
TIMED_OUT = gateway_error(504, "Endpoint request timed out")


def _headers(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    in_multi = {str(name).lower() for name in multi}
    lines = [
        (str(k), header_value(v, str(k))) for k, v in single.items() if k.lower() not in in_multi
    ]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        lines += [(str(name), header_value(v, str(name))) for v in values]
    return without_framing(lines, "application/json")


def map_proxy_response(
    payload: Any, *, accept: str | None = None, binary_media_types: tuple[str, ...] = ()
) -> HttpResult:
    """The response for a format 1.0 answer, or :class:`MalformedResponse`."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise MalformedResponse("a Lambda proxy response is an object with a statusCode")
    extra = set(payload) - PROXY_KEYS
    if extra:
        raise MalformedResponse(f"unexpected keys {sorted(extra)}")
    headers = _headers(payload)
    decode = payload.get("isBase64Encoded") is True and any(
        is_binary(media, binary_media_types) for media in (accept or "").split(",")
    )
    body = response_body({**payload, "isBase64Encoded": decode})
    return HttpResult(status_code(payload["statusCode"]), tuple(headers), body)


def rest_result_response(
    result: InvokeResult, *, accept: str | None, binary_media_types: tuple[str, ...]
) -> HttpResult:
    """A function error, a crash or a malformed answer is the REST API's 502."""
    if not result.ok:
        log.info("function error %s: answering 502", result.error_type)
        return BAD_GATEWAY
    try:
        return map_proxy_response(
            result.payload, accept=accept, binary_media_types=binary_media_types
        )
    except MalformedResponse as exc:
        log.warning("Malformed Lambda proxy response (request %s): %s", result.request_id, exc)
        return BAD_GATEWAY
