"""One HTTP API on the runtime's server: carries bytes between aiohttp, the pure rules of
:mod:`routing`, :mod:`events`, :mod:`responses` and :mod:`cors`, and the function pools.

As in the WebSocket gateway, the event loop never runs handler code.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from hubbub.runtime.apigateway.http.cors import cors_headers, is_preflight, preflight_response
from hubbub.runtime.apigateway.http.events import HttpRequest, build_event, gateway_headers
from hubbub.runtime.apigateway.http.mounting import MountPlan, mount_plan
from hubbub.runtime.apigateway.http.responses import (
    INTERNAL_ERROR,
    NOT_FOUND,
    TOO_LARGE,
    UNAVAILABLE,
    HttpResult,
    result_response,
)
from hubbub.runtime.apigateway.http.routing import RouteTable
from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.awsids import extended_request_id
from hubbub.runtime.cloudformation import HttpApiSpec
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = ["REQUEST_BODY_LIMIT", "HttpApiGateway"]

log = logging.getLogger("hubbub.httpapi")

REQUEST_BODY_LIMIT = 10 * 1024 * 1024
"""API Gateway HTTP APIs refuse request payloads over 10 MB."""


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
        done, _ = await asyncio.wait({task}, timeout=self.quotas.http_integration_timeout_s)
        if not done:
            self.stats.timeouts += 1
            log.warning(
                "HTTP API %s: %s ran past the %.1f s integration timeout: answering 503",
                self.api.logical_id,
                function,
                self.quotas.http_integration_timeout_s,
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
