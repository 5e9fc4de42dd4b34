"""The payload format 2.0 event an HTTP API hands its function, built key for key as AWS does.

The request is a plain value (:class:`HttpRequest`), apart from aiohttp, so every folding rule
(headers, cookies, query, text or base64 body) is unit-tested without a server.
"""

from __future__ import annotations

import base64
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.apigateway.events import request_time
from hubbub.runtime.apigateway.http.routing import RouteMatch
from hubbub.runtime.cloudformation import HttpApiSpec

__all__ = ["HttpRequest", "build_event", "encode_body", "gateway_headers", "is_text"]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
_GATEWAY_SET = frozenset({"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port"})
_TEXT_TYPES = frozenset(
    {"application/json", "application/javascript", "application/xml", "application/graphql"}
)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as the gateway received it, apart from aiohttp."""

    method: str
    raw_path: str
    """The path below the API's mount point, including a named stage, percent-decoded."""
    raw_query: str
    headers: Sequence[tuple[str, str]]
    """Every header line in order, after :func:`gateway_headers`."""
    body: bytes
    source_ip: str
    domain_name: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first line's value of a header, its name matched without regard to case (as
        HTTP names are); ``None`` when the request has none."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)


def gateway_headers(
    received: Iterable[tuple[str, str]],
    *,
    source_ip: str,
    port: int,
    scheme: str,
    keep_case: bool = False,
) -> list[tuple[str, str]]:
    """The header lines a function sees: the client's, without hop-by-hop ones, plus the
    forwarding and tracing headers API Gateway sets (appending the caller to X-Forwarded-For).
    An HTTP API lower-cases every name; a REST API (``keep_case``) passes the client's names as
    sent and spells its own ``X-Forwarded-For``."""
    kept: list[tuple[str, str]] = []
    forwarded: list[str] = []
    for name, value in received:
        lower = name.lower()
        if lower == "x-forwarded-for":
            forwarded.append(value)
        elif (
            lower not in _HOP_BY_HOP and lower not in _GATEWAY_SET and lower != "x-forwarded-proto"
        ):
            kept.append((name if keep_case else lower, value))
    trace = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    added = [
        ("X-Amzn-Trace-Id", trace),
        ("X-Forwarded-For", ", ".join([*forwarded, source_ip])),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", scheme),
    ]
    return [*kept, *((k if keep_case else k.lower(), v) for k, v in added)]


def _fold_headers(lines: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Format 2.0's view: names lower-cased, repeats comma-joined, cookies split out into their
    own list (and not left among the headers)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in lines:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        elif lower in headers:
            headers[lower] = f"{headers[lower]},{value}"
        else:
            headers[lower] = value
    return headers, cookies


def _fold_query(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """Text media types travel as text; everything else (and text that is not UTF-8) as base64."""
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def build_event(
    api: HttpApiSpec,
    match: RouteMatch,
    request: HttpRequest,
    *,
    account_id: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The payload format 2.0 event, key for key in the order API Gateway writes it."""
    headers, cookies = _fold_headers(request.headers)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _fold_query(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = _request_context(api, match, request, account_id, request_id, now_ms)
    is_base64 = False
    if request.body:
        event["body"], is_base64 = encode_body(request.body, headers.get("content-type"))
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event["isBase64Encoded"] = is_base64
    return event


def _request_context(
    api: HttpApiSpec,
    match: RouteMatch,
    request: HttpRequest,
    account_id: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    host = (
        request.domain_name.rsplit(":", 1)[0] if ":" in request.domain_name else request.domain_name
    )
    user_agent = request.header("user-agent") or ""
    return {
        "accountId": account_id,
        "apiId": api.api_id,
        "domainName": request.domain_name,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": match.route.key,
        "stage": api.stage,
        "time": request_time(now_ms),
        "timeEpoch": now_ms,
    }
