"""The HTTP side of API Gateway (HTTP APIs, payload format 2.0): route selection, the event,
the mapping of the function's answer to an HTTP response, CORS and the request quotas.

Route matching, the event, the response mapping and CORS are pure functions over plain values,
so each AWS rule is unit-tested on its own; :class:`HttpApiGateway` only carries bytes between
aiohttp, those functions and the function pools. As in the WebSocket gateway, the event loop never
runs handler code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from hubbub.runtime.apigateway.events import request_time
from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.awsids import extended_request_id
from hubbub.runtime.cloudformation import CorsSpec, HttpApiSpec, HttpRouteSpec
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = [
    "HTTP_PREFIX",
    "REQUEST_BODY_LIMIT",
    "HttpApiGateway",
    "HttpRequest",
    "HttpResult",
    "MalformedResponse",
    "RouteMatch",
    "RouteTable",
    "build_event",
    "cors_headers",
    "gateway_headers",
    "is_preflight",
    "map_response",
    "mount_plan",
    "preflight_response",
    "result_response",
]

log = logging.getLogger("hubbub.httpapi")

HTTP_PREFIX = "/_http"
"""Where an API that would catch every path is mounted, so it never hides the server's own."""
REQUEST_BODY_LIMIT = 10 * 1024 * 1024
"""API Gateway HTTP APIs refuse request payloads over 10 MB."""

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
_GATEWAY_SET = frozenset({"x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port"})
_NOT_FROM_INTEGRATION = frozenset({"content-length", "transfer-encoding", "connection"})
_TEXT_TYPES = frozenset(
    {"application/json", "application/javascript", "application/xml", "application/graphql"}
)


# route selection ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: HttpRouteSpec
    path_parameters: dict[str, str]


def _is_variable(segment: str) -> bool:
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
        if segments and _is_variable(segments[-1]) and segments[-1].endswith("+}"):
            return cls(route, segments[:-1], segments[-1][1:-2])
        return cls(route, segments, None)

    def bind(self, method: str, parts: Sequence[str]) -> dict[str, str] | None:
        """The path parameters when this route takes the request, else None."""
        if self.route.method not in ("ANY", method):
            return None
        fixed = len(self.segments)
        if len(parts) < fixed or (self.greedy is None and len(parts) != fixed):
            return None
        params: dict[str, str] = {}
        for template, part in zip(self.segments, parts, strict=False):
            if _is_variable(template):
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
            tuple(_is_variable(s) for s in self.segments),
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


# mounting ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MountPlan:
    prefix: str
    """``""`` when the routes are served at their own paths, else ``/_http/{logicalId}``."""
    stage_path: str
    """``""`` for the ``$default`` stage, else ``/{stage}``, as on AWS."""
    patterns: tuple[str, ...]
    """aiohttp resource paths that lead to this API."""
    reason: str | None = None
    """Why the API was moved under the prefix, for the log."""

    @property
    def base(self) -> str:
        return self.prefix + self.stage_path


def _mount_conflict(api: HttpApiSpec, taken: frozenset[str]) -> str | None:
    """Why serving the API at its own paths would hide one of the server's, if it would."""
    if api.stage != "$default":
        return (
            f"its stage /{api.stage} is a path of the server's own" if api.stage in taken else None
        )
    for route in api.routes.values():
        if route.path is None:
            return "it has a $default route"
        first = route.path.split("/")[1]
        if _is_variable(first):
            return f"route {route.key!r} would catch every top-level path"
        if first in taken:
            return f"route {route.key!r} would hide the server's own /{first}"
    return None


def _aiohttp_path(path: str) -> str:
    """An API Gateway path as an aiohttp resource path; the table re-matches every request, so
    variable names only need to be unique."""
    out = []
    for index, segment in enumerate(path.split("/")[1:]):
        if _is_variable(segment):
            greedy = segment.endswith("+}")
            out.append(f"{{_p{index}:.+}}" if greedy else f"{{_p{index}}}")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _catch_all(base: str) -> tuple[str, ...]:
    return (base, f"{base}/{{_tail:.*}}")


def mount_plan(api: HttpApiSpec, reserved: Iterable[str]) -> MountPlan:
    """Where an API's routes go on the shared server: at their own paths unless that would hide
    the WebSocket stage, the runtime's endpoints or the web pages."""
    stage_path = "" if api.stage == "$default" else f"/{api.stage}"
    reason = _mount_conflict(api, frozenset(reserved))
    if reason is not None:
        prefix = f"{HTTP_PREFIX}/{api.logical_id}"
        return MountPlan(prefix, stage_path, _catch_all(prefix + stage_path), reason)
    if any(route.is_default for route in api.routes.values()):  # below a stage of its own
        return MountPlan("", stage_path, _catch_all(stage_path))
    patterns = dict.fromkeys(
        stage_path + _aiohttp_path(r.path) for r in api.routes.values() if r.path is not None
    )
    return MountPlan("", stage_path, tuple(patterns))


# the event ---------------------------------------------------------------------------------------
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


def gateway_headers(
    received: Iterable[tuple[str, str]], *, source_ip: str, port: int, scheme: str
) -> list[tuple[str, str]]:
    """The header lines a function sees: the client's, without hop-by-hop ones, plus the
    forwarding and tracing headers API Gateway sets (appending the caller to X-Forwarded-For)."""
    kept: list[tuple[str, str]] = []
    forwarded: list[str] = []
    for name, value in received:
        lower = name.lower()
        if lower == "x-forwarded-for":
            forwarded.append(value)
        elif (
            lower not in _HOP_BY_HOP and lower not in _GATEWAY_SET and lower != "x-forwarded-proto"
        ):
            kept.append((lower, value))
    trace = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return [
        *kept,
        ("x-amzn-trace-id", trace),
        ("x-forwarded-for", ", ".join([*forwarded, source_ip])),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", scheme),
    ]


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


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def _encode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """Text media types travel as text; everything else (and text that is not UTF-8) as base64."""
    if _is_text(content_type):
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
        event["body"], is_base64 = _encode_body(request.body, headers.get("content-type"))
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
    user_agent = next((v for k, v in request.headers if k.lower() == "user-agent"), "")
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


# the response ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _gateway_error(status: int, message: str) -> HttpResult:
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResult(status, (("content-type", "application/json"),), body)


NOT_FOUND = _gateway_error(404, "Not Found")
TOO_LARGE = _gateway_error(413, "Request Entity Too Large")
INTERNAL_ERROR = _gateway_error(500, "Internal Server Error")
UNAVAILABLE = _gateway_error(503, "Service Unavailable")


class MalformedResponse(ValueError):
    """The function answered something API Gateway cannot turn into a response (it answers 500)."""


def _header_value(value: Any, name: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse(f"statusCode {value!r} is not an integer")
    try:
        status = int(value)
    except ValueError:
        raise MalformedResponse(f"statusCode {value!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status")
    return status


def _response_headers(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    cookies = payload.get("cookies") or []
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list")
    lines = [(str(k), _header_value(v, str(k))) for k, v in single.items()]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        lines += [(str(name), _header_value(v, str(name))) for v in values]
    lines += [("set-cookie", _header_value(c, "cookies")) for c in cookies]
    lines = [(k, v) for k, v in lines if k.lower() not in _NOT_FROM_INTEGRATION]
    if not any(k.lower() == "content-type" for k, _ in lines):
        lines.append(("content-type", "text/plain; charset=utf-8"))
    return lines


def _response_body(payload: Mapping[str, Any]) -> bytes:
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
            _status(payload["statusCode"]),
            tuple(_response_headers(payload)),
            _response_body(payload),
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


# CORS --------------------------------------------------------------------------------------------
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


# the aiohttp side --------------------------------------------------------------------------------
async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None past the limit; read from the stream, because the server's own
    ``client_max_size`` is sized for its other endpoints, not for API Gateway's 10 MB."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(slots=True)
class _Stats:
    requests: int = 0
    not_found: int = 0
    errors: int = 0
    timeouts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "notFound": self.not_found,
            "errors": self.errors,
            "timeouts": self.timeouts,
        }


@dataclass(eq=False)
class HttpApiGateway:
    """One HTTP API on the runtime's server."""

    api: HttpApiSpec
    pools: Mapping[str, FunctionPool]
    quotas: Quotas
    account_id: str
    reserved: frozenset[str] = frozenset()
    body_limit: int = REQUEST_BODY_LIMIT
    plan: MountPlan = field(init=False)
    table: RouteTable = field(init=False)
    stats: _Stats = field(init=False, default_factory=_Stats)
    _running: set[asyncio.Task[InvokeResult]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.plan = mount_plan(self.api, self.reserved)
        self.table = RouteTable(self.api.routes.values())

    @property
    def base(self) -> str:
        """The API's root on this server: what ``https://{apiId}.execute-api...`` is on AWS."""
        return self.plan.base

    def mount(self, app: web.Application) -> None:
        if self.plan.reason is not None:
            log.warning(
                "HTTP API %s is served under %s/ because %s",
                self.api.logical_id,
                self.plan.base,
                self.plan.reason,
            )
        for pattern in self.plan.patterns:
            canonical = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", pattern)
            if any(resource.canonical == canonical for resource in app.router.resources()):
                log.warning(
                    "HTTP API %s: %s is already served by another API; this one is not reached",
                    self.api.logical_id,
                    pattern,
                )
                continue
            app.router.add_route("*", pattern, self.handle)

    async def shutdown(self) -> None:
        """End invocations that outlived their request (past the integration timeout)."""
        running = set(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = extended_request_id()
        self.stats.requests += 1
        result = await self._answer(request, request_id)
        if result.status == 404:
            self.stats.not_found += 1
        elif result.status >= 500:
            self.stats.errors += 1
        return _to_aiohttp(result, request_id)

    async def _answer(self, request: web.Request, request_id: str) -> HttpResult:
        cors = self.api.cors
        origin = request.headers.get("Origin")
        if (
            cors is not None
            and origin is not None
            and is_preflight(request.method, request.headers)
        ):
            wanted = request.headers.get("Access-Control-Request-Method", "")
            return preflight_response(cors, origin, wanted)
        result = await self._route(request, request_id)
        if cors is not None and origin is not None:
            result = cors_headers(result, cors, origin)
        return result

    def _paths(self, request: web.Request) -> tuple[str, str] | None:
        """(rawPath, the path routes match) below the mount point; None outside the stage."""
        raw_path = request.path[len(self.plan.prefix) :] or "/"
        stage = self.plan.stage_path
        if stage and raw_path != stage and not raw_path.startswith(stage + "/"):
            return None
        return raw_path, raw_path[len(stage) :] or "/"

    async def _route(self, request: web.Request, request_id: str) -> HttpResult:
        paths = self._paths(request)
        match = None if paths is None else self.table.match(request.method, paths[1])
        if paths is None or match is None:
            return NOT_FOUND
        body = await _read_body(request, self.body_limit)
        if body is None:
            return TOO_LARGE
        http_request = HttpRequest(
            method=request.method,
            raw_path=paths[0],
            raw_query=request.rel_url.raw_query_string,
            headers=gateway_headers(
                request.headers.items(),
                source_ip=request.remote or "127.0.0.1",
                port=request.url.port or (443 if request.secure else 80),
                scheme="https" if request.secure else "http",
            ),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            domain_name=request.host,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        event = build_event(
            self.api,
            match,
            http_request,
            account_id=self.account_id,
            request_id=request_id,
            now_ms=time.time_ns() // 1_000_000,
        )
        return await self._invoke(match.route.function, event)

    async def _invoke(self, function: str, event: dict[str, Any]) -> HttpResult:
        """Invoke and wait at most the integration timeout; past it the client gets 503 while the
        function runs on, as Lambda does."""
        task = asyncio.create_task(self.pools[function].invoke(event))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        done, _ = await asyncio.wait({task}, timeout=self.quotas.integration_timeout_s)
        if not done:
            self.stats.timeouts += 1
            log.warning(
                "HTTP API %s: %s ran past the %.1f s integration timeout: answering 503",
                self.api.logical_id,
                function,
                self.quotas.integration_timeout_s,
            )
            return UNAVAILABLE
        try:
            return result_response(task.result())
        except Exception:
            log.exception("HTTP API %s: invoking %s failed", self.api.logical_id, function)
            return INTERNAL_ERROR


def _to_aiohttp(result: HttpResult, request_id: str) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(result.headers)
    headers["apigw-requestid"] = request_id
    return web.Response(status=result.status, body=result.body, headers=headers)
