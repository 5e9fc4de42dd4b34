"""What the client gets for the function's answer, by payload format 2.0's rules, and the
gateway's own error responses. The checks of one field (status, header value, body) are shared with
the REST API's format 1.0 (``apigateway/rest/responses.py``).

A function error, a crash, a timeout or a malformed answer is API Gateway's 500, never a stack
trace; the reason goes to the log.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = [
    "INTERNAL_ERROR",
    "NOT_FOUND",
    "TOO_LARGE",
    "UNAVAILABLE",
    "HttpResult",
    "MalformedResponse",
    "gateway_error",
    "header_value",
    "map_response",
    "response_body",
    "result_response",
    "status_code",
    "without_framing",
]

log = logging.getLogger("hubbub.httpapi")

_NOT_FROM_INTEGRATION = frozenset({"content-length", "transfer-encoding", "connection"})


# the response ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def gateway_error(status: int, message: str) -> HttpResult:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResult(status, (("content-type", "application/json"),), body)


NOT_FOUND = gateway_error(404, "Not Found")
TOO_LARGE = gateway_error(413, "Request Entity Too Large")
INTERNAL_ERROR = gateway_error(500, "Internal Server Error")
UNAVAILABLE = gateway_error(503, "Service Unavailable")


class MalformedResponse(ValueError):
    """The function answered something API Gateway cannot turn into a response (it answers 500)."""


def header_value(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")


def status_code(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse(f"statusCode {value!r} is not an integer")
    try:
        status = int(value)
    except ValueError:
        raise MalformedResponse(f"statusCode {value!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status")
    return status


def without_framing(lines: list[tuple[str, str]], default_type: str) -> list[tuple[str, str]]:
    """The integration cannot set the framing headers; a response without a content type gets
    the API type's default."""
    lines = [(k, v) for k, v in lines if k.lower() not in _NOT_FROM_INTEGRATION]
    if not any(k.lower() == "content-type" for k, _ in lines):
        lines.append(("content-type", default_type))
    return lines


def _response_headers(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Format 2.0 reads ``headers`` and ``cookies`` only: it has no ``multiValueHeaders``, so a
    function that still returns them (a format 1.0 habit) has them ignored, as on AWS."""
    single = payload.get("headers") or {}
    cookies = payload.get("cookies") or []
    if not isinstance(single, Mapping):
        raise MalformedResponse("headers must be an object")
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list")
    lines = [(str(k), header_value(v, str(k))) for k, v in single.items()]
    lines += [("set-cookie", header_value(c, "cookies")) for c in cookies]
    return without_framing(lines, "text/plain; charset=utf-8")


def response_body(payload: Mapping[str, Any]) -> bytes:
    body = payload.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body is a {type(body).__name__}, not a string")
    if payload.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8")


def map_response(payload: Any) -> HttpResult:
    """Format 2.0's two answers: an object with ``statusCode`` is the response itself; any other
    JSON value is the body of a 200 ``application/json`` response."""
    if isinstance(payload, dict) and "statusCode" in payload:
        return HttpResult(
            status_code(payload["statusCode"]),
            tuple(_response_headers(payload)),
            response_body(payload),
        )
    return HttpResult(
        200, (("content-type", "application/json"),), json.dumps(payload).encode("utf-8")
    )


def result_response(result: InvokeResult) -> HttpResult:
    """What the client gets for one finished invocation: a function error, a crash, a timeout or
    a malformed answer is API Gateway's 500."""
    if not result.ok:
        log.info("function error %s: answering 500", result.error_type)
        return INTERNAL_ERROR
    try:
        return map_response(result.payload)
    except MalformedResponse as exc:
        log.warning("malformed Lambda proxy response (request %s): %s", result.request_id, exc)
        return INTERNAL_ERROR
