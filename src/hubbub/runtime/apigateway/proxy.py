"""What an HTTP API and a REST API share on the runtime's server: mounting, reading the request
(within API Gateway's 10 MB), invoking the function under the integration timeout, and the
counters. Each kind of API says how it builds its event and reads the function's answer
(:mod:`apigateway.http.gateway` for payload format 2.0, :mod:`apigateway.rest.gateway` for 1.0).

As in the WebSocket gateway, the event loop never runs handler code.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from aiohttp import web
from multidict import CIMultiDict

from hubbub.runtime.apigateway.http.events import HttpRequest, gateway_headers
from hubbub.runtime.apigateway.http.mounting import HTTP_PREFIX, MountPlan, mount_plan
from hubbub.runtime.apigateway.http.responses import (
    INTERNAL_ERROR,
    NOT_FOUND,
    TOO_LARGE,
    UNAVAILABLE,
    HttpResult,
)
from hubbub.runtime.apigateway.http.routing import RouteMatch, RouteTable
from hubbub.runtime.apigateway.quotas import Quotas, integration_wait_s
from hubbub.runtime.awsids import extended_request_id
from hubbub.runtime.cloudformation import HttpApiSpec, HttpRouteSpec, RestApiSpec
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = ["REQUEST_BODY_LIMIT", "ProxyGateway"]

log = logging.getLogger("hubbub.httpapi")

REQUEST_BODY_LIMIT = 10 * 1024 * 1024
"""API Gateway HTTP and REST APIs refuse request payloads over 10 MB."""

ApiT = TypeVar("ApiT", HttpApiSpec, RestApiSpec)


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
class ProxyGateway(Generic[ApiT]):
    """One API of Lambda proxy integrations on the runtime's server."""

    api: ApiT
    pools: Mapping[str, FunctionPool]
    quotas: Quotas
    account_id: str
    reserved: frozenset[str] = frozenset()
    body_limit: int = REQUEST_BODY_LIMIT
    plan: MountPlan = field(init=False)
    table: RouteTable = field(init=False)
    stats: _Stats = field(init=False, default_factory=_Stats)
    _running: set[asyncio.Task[InvokeResult]] = field(init=False, default_factory=set)

    kind: ClassVar[str] = "HTTP API"
    prefix_root: ClassVar[str] = HTTP_PREFIX
    not_found: ClassVar[HttpResult] = NOT_FOUND
    internal_error: ClassVar[HttpResult] = INTERNAL_ERROR
    timed_out: ClassVar[HttpResult] = UNAVAILABLE
    keep_header_case: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.plan = mount_plan(self.api, self.reserved, prefix_root=self.prefix_root)
        self.table = RouteTable(self.api.routes.values())

    @property
    def base(self) -> str:
        """The API's root on this server: what ``https://{apiId}.execute-api...`` is on AWS."""
        return self.plan.base

    # what each kind of API says ------------------------------------------------------------------
    def match(self, method: str, path: str) -> RouteMatch | None:
        return self.table.match(method, path)

    def build_event(
        self, match: RouteMatch, request: HttpRequest, request_id: str, now_ms: int
    ) -> dict[str, Any]:
        raise NotImplementedError

    def map_result(self, result: InvokeResult, request: HttpRequest) -> HttpResult:
        raise NotImplementedError

    async def answer(self, request: web.Request, request_id: str) -> HttpResult:
        """The response before the gateway's own headers (CORS lives here in subclasses)."""
        return await self.route(request, request_id)

    def response_headers(self, request_id: str) -> dict[str, str]:
        return {"apigw-requestid": request_id}

    # shared ------------------------------------------------------------------------------
    def mount(self, app: web.Application) -> None:
        if self.plan.reason is not None:
            log.warning(
                "%s %s is served under %s/ because %s",
                self.kind,
                self.api.logical_id,
                self.plan.base,
                self.plan.reason,
            )
        for pattern in self.plan.patterns:
            canonical = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", pattern)
            if any(resource.canonical == canonical for resource in app.router.resources()):
                log.warning(
                    "%s %s: %s is already served by another API; this one is not reached",
                    self.kind,
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
        result = await self.answer(request, request_id)
        if result.status == self.not_found.status:
            self.stats.not_found += 1
        elif result.status >= 500:
            self.stats.errors += 1
        headers: CIMultiDict[str] = CIMultiDict(result.headers)
        headers.update(self.response_headers(request_id))
        return web.Response(status=result.status, body=result.body, headers=headers)

    def paths(self, request: web.Request) -> tuple[str, str] | None:
        """(the path below the mount point, the path routes match); None outside the stage."""
        raw_path = request.path[len(self.plan.prefix) :] or "/"
        stage = self.plan.stage_path
        if stage and raw_path != stage and not raw_path.startswith(stage + "/"):
            return None
        return raw_path, raw_path[len(stage) :] or "/"

    async def route(self, request: web.Request, request_id: str) -> HttpResult:
        paths = self.paths(request)
        match = None if paths is None else self.match(request.method, paths[1])
        if paths is None or match is None:
            return self.not_found
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
                keep_case=self.keep_header_case,
            ),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            domain_name=request.host,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        now_ms = time.time_ns() // 1_000_000
        event = self.build_event(match, http_request, request_id, now_ms)
        return await self._invoke(match.route, event, http_request)

    def integration_timeout_s(self) -> float:
        """REST APIs' 29 s default; HTTP APIs override it."""
        return self.quotas.integration_timeout_s

    async def _invoke(
        self, route: HttpRouteSpec, event: dict[str, Any], request: HttpRequest
    ) -> HttpResult:
        """Invoke and wait at most the integration timeout (the route's ``TimeoutInMillis``,
        never past the API's); past it the client gets the gateway's timeout answer while the
        function runs on, as Lambda does."""
        function = route.function
        task = asyncio.create_task(self.pools[function].invoke(event))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        timeout_s = integration_wait_s(self.integration_timeout_s(), route.timeout_s)
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            self.stats.timeouts += 1
            log.warning(
                "%s %s: %s ran past the %.1f s integration timeout: answering %d",
                self.kind,
                self.api.logical_id,
                function,
                timeout_s,
                self.timed_out.status,
            )
            return self.timed_out
        try:
            return self.map_result(task.result(), request)
        except Exception:
            log.exception("%s %s: invoking %s failed", self.kind, self.api.logical_id, function)
            return self.internal_error
